/**
 * The README's run command until the Coffer server exists (`npm start`): three Raft nodes in
 * one process with real LevelDB logs on disk, talking through the encoding in-memory
 * transport on real time. It prints elections and commits, kills the leader, elects another,
 * restarts the killed node from its log on disk and shows it catching up.
 *
 * Usage: npm start [-- --data-dir <dir>] (default: a fresh temporary directory, removed at exit)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asNodeId, type Entry, type LogIndex, type SnapshotMetadata } from '@coffer/raft';
import {
  framedSnapshot,
  RaftNode,
  readFramedSnapshot,
  systemClock,
  type SnapshotSource,
  type SnapshotStream,
  type StateMachine,
} from '@coffer/raft/node';
import { InMemoryNetwork, SeededRandom } from '@coffer/raft/testing';
import { LevelLogStore } from '@coffer/storage';

const argument = process.argv.indexOf('--data-dir');
const keep = argument >= 0;
const dataDir = keep
  ? (process.argv[argument + 1] ?? '')
  : mkdtempSync(join(tmpdir(), 'coffer-demo-'));
if (dataDir === '') {
  console.error('coffer demo: --data-dir needs a directory, for example --data-dir ./demo-data');
  process.exit(1);
}

const started = performance.now();
function say(text: string): void {
  console.log(`[${((performance.now() - started) / 1000).toFixed(2).padStart(6)} s] ${text}`);
}

/** Records what it applies, so the demo can show that every node holds the same log. */
class DemoMachine implements StateMachine {
  readonly applied: string[] = [];
  #index = 0 as LogIndex;
  appliedIndex(): LogIndex {
    return this.#index;
  }
  apply(entries: readonly Entry[]): Promise<readonly Uint8Array[]> {
    for (const e of entries) {
      if (e.data.byteLength > 0) {
        this.applied.push(new TextDecoder().decode(e.data));
      }
      this.#index = e.index;
    }
    return Promise.resolve(entries.map(() => new Uint8Array(0)));
  }
  snapshot(): Promise<SnapshotSource> {
    return Promise.resolve(
      framedSnapshot([new TextEncoder().encode(JSON.stringify(this.applied))]),
    );
  }
  async restore(metadata: SnapshotMetadata, chunks: SnapshotStream): Promise<void> {
    const [data = new Uint8Array(0)] = await readFramedSnapshot(chunks, 1);
    this.applied.splice(
      0,
      this.applied.length,
      ...(JSON.parse(new TextDecoder().decode(data) || '[]') as string[]),
    );
    this.#index = metadata.index;
  }
}

const network = new InMemoryNetwork();
const random = new SeededRandom(2026);
const machines = new Map<number, DemoMachine>();
const nodes = new Map<number, RaftNode>();
const confState = { voters: [1, 2, 3].map(asNodeId), learners: [] };

async function startNode(id: number): Promise<RaftNode> {
  const log = await LevelLogStore.open(join(dataDir, `node-${id}`), { confState });
  const machine = new DemoMachine();
  machines.set(id, machine);
  const node = await RaftNode.start({
    id,
    log,
    stateMachine: machine,
    transport: network.connect(asNodeId(id)),
    clock: systemClock,
    randomInt: (n) => random.int(n),
    tickIntervalMs: 50,
  });
  nodes.set(id, node);
  return node;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function leader(): Promise<RaftNode> {
  for (let i = 0; i < 200; i++) {
    const found = [...nodes.values()].find((n) => n.raw.status().softState.role === 'leader');
    if (found !== undefined) {
      return found;
    }
    await pause(25);
  }
  throw new Error('No leader elected within 5 s');
}

async function write(text: string): Promise<void> {
  const node = await leader();
  const outcome = await node.propose(new TextEncoder().encode(text));
  say(
    outcome.ok
      ? `node ${node.id} committed #${outcome.index}: ${text}`
      : `write refused: ${outcome.code}`,
  );
}

async function main(): Promise<void> {
  say(`coffer demo: three Raft nodes with LevelDB logs in ${dataDir}`);
  for (const id of [1, 2, 3]) {
    await startNode(id);
  }
  const first = await leader();
  say(`node ${first.id} elected leader for term ${first.raw.status().hardState.term}`);
  await write('secret/app/db: v1');
  await write('secret/app/api-key: v1');
  say(`killing leader node ${first.id}`);
  await first.stop();
  nodes.delete(first.id);
  const second = await leader();
  say(`node ${second.id} elected leader for term ${second.raw.status().hardState.term}`);
  await write('secret/app/db: v2');
  say(`restarting node ${first.id} from its log on disk`);
  const back = await startNode(first.id);
  say(
    `node ${first.id} reopened its log: last index ${back.raw.status().lastIndex}, term ${back.raw.status().hardState.term}`,
  );
  await write('secret/app/db: v3');
  for (let i = 0; i < 100 && (machines.get(first.id)?.applied.length ?? 0) < 4; i++) {
    await pause(20);
  }
  const logs = [...machines.values()].map((m) => m.applied.join(' | '));
  say(
    logs.every((l) => l === logs[0])
      ? `every node applied: ${logs[0] ?? ''}`
      : `nodes differ: ${logs.join(' / ')}`,
  );
  await Promise.all([...nodes.values()].map((n) => n.stop()));
}

try {
  await main();
} finally {
  if (!keep) {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
