/**
 * The README's run command until the Coffer server exists: a three-node Raft cluster in one
 * process (the real core, in-memory logs), printing elections and commits while it loses its
 * leader, elects another, and takes the old leader back.
 *
 * Usage: npm start [-- --seed <n>]
 */
import { asNodeId, type Ready } from '../index.ts';
import { InMemoryCluster } from '../testing.ts';

const seedArgument = process.argv.indexOf('--seed');
const seed = seedArgument >= 0 ? Number(process.argv[seedArgument + 1]) : 2026;
if (!Number.isSafeInteger(seed)) {
  console.error('coffer demo: pass --seed a whole number, for example --seed 7');
  process.exit(1);
}

const cluster = new InMemoryCluster({ voters: [1, 2, 3], seed });
let tick = 0;

function report(id: number, ready: Ready): void {
  if (ready.softState?.role === 'leader') {
    const term = cluster.node(id).raw.status().hardState.term;
    console.log(`[tick ${String(tick).padStart(3)}] node ${id} elected leader for term ${term}`);
  }
  for (const entry of ready.committedEntries) {
    if (entry.data.byteLength > 0 && id === cluster.leader()?.id) {
      const text = new TextDecoder().decode(entry.data);
      console.log(`[tick ${String(tick).padStart(3)}] committed #${entry.index} (term ${entry.term}): ${text}`);
    }
  }
}

/** One tick of simulated time: every live node ticks, then the cluster settles. */
function step(): void {
  tick++;
  cluster.tickAll();
  for (let round = 0; round < 1000; round++) {
    let moved = false;
    for (const [id, node] of cluster.nodes) {
      if (cluster.isUp(id) && node.raw.hasReady()) {
        const { ready, messages } = node.handleReady();
        report(id, ready);
        cluster.queue.push(...messages);
        moved = true;
      }
    }
    const batch = cluster.queue;
    cluster.queue = [];
    for (const m of batch) {
      cluster.deliver(m);
    }
    if (!moved && batch.length === 0) {
      return;
    }
  }
}

function waitForLeader(): number {
  while (cluster.leader() === undefined) {
    step();
  }
  return cluster.leader()?.id ?? 0;
}

function write(text: string): void {
  const leader = waitForLeader();
  cluster.node(leader).raw.propose([new TextEncoder().encode(text)]);
  step();
}

console.log('coffer demo: three Raft nodes in one process (seed %d)', seed);
let leader = waitForLeader();
write('secret/app/db: v1');
write('secret/app/api-key: v1');
console.log(`[tick ${String(tick).padStart(3)}] crashing leader node ${leader}`);
cluster.crash(leader);
const crashed = leader;
leader = waitForLeader();
write('secret/app/db: v2');
console.log(`[tick ${String(tick).padStart(3)}] restarting node ${crashed}`);
cluster.restart(crashed);
for (let i = 0; i < 20; i++) {
  step();
}
write('secret/app/db: v3');
for (let i = 0; i < 5; i++) {
  step();
}
const logs = [...cluster.nodes.keys()].map((id) => cluster.applied(id).join(', '));
const agree = logs.every((l) => l === logs[0]);
console.log(`every node applied the same ${agree ? 'log' : 'log: NO'}: ${logs[0] ?? ''}`);
console.log(`leader is node ${cluster.leader()?.id ?? 'none'}; node ${asNodeId(crashed)} caught up after restart`);
process.exit(agree ? 0 : 1);
