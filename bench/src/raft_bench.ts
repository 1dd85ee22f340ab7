/**
 * `npm run bench:raft`: committed proposals per second, commit latency and fsyncs per second of
 * a three-node Raft cluster in one process, with real LevelDB logs on disk and the encoding
 * in-memory transport, at 1, 16 and 256 concurrent proposers. The baseline, measured in the
 * same run on the same disk, is the serial rate of 4 KiB writes each followed by fdatasync:
 * what a log without group commit could do at best.
 *
 * Options: --seconds <n> per phase (default 3), --value-bytes <n> (default 128).
 */
import { mkdtempSync, openSync, closeSync, writeSync, fdatasyncSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { asNodeId, type Entry, type LogIndex, type SnapshotMetadata } from '@coffer/raft';
import { RaftNode, systemClock, type DurableLog, type StateMachine } from '@coffer/raft/node';
import { InMemoryNetwork, SeededRandom } from '@coffer/raft/testing';
import { LevelLogStore } from '@coffer/storage';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`bench:raft: --${name} takes a positive number`);
    process.exit(1);
  }
  return value;
}

const phaseSeconds = option('seconds', 3);
const valueBytes = option('value-bytes', 128);
const concurrencies = [1, 16, 256];

/** Applies nothing but counts: the bench measures the log, not an application. */
class CountingMachine implements StateMachine {
  #index = 0 as LogIndex;
  appliedIndex(): LogIndex {
    return this.#index;
  }
  apply(entries: readonly Entry[]): Promise<readonly Uint8Array[]> {
    const last = entries[entries.length - 1];
    if (last !== undefined) {
      this.#index = last.index;
    }
    return Promise.resolve(entries.map(() => new Uint8Array(0)));
  }
  snapshot(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(0));
  }
  restore(metadata: SnapshotMetadata): Promise<void> {
    this.#index = metadata.index;
    return Promise.resolve();
  }
}

const syncs = { count: 0 };

/** Counts the synced persists of a log: each is one fsync of a LevelDB batch. */
function counted(log: DurableLog): DurableLog {
  return new Proxy(log, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property === 'persist' && typeof value === 'function') {
        return (batch: unknown, options: { sync: boolean }) => {
          if (options.sync) {
            syncs.count++;
          }
          return (value as (b: unknown, o: unknown) => Promise<void>).call(target, batch, options);
        };
      }
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

function serialFdatasyncPerSecond(directory: string): number {
  const path = join(directory, 'fsync-probe');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4096, 7);
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < 1000) {
    writeSync(fd, block, 0, block.byteLength, 0);
    fdatasyncSync(fd);
    count++;
  }
  closeSync(fd);
  return count / ((performance.now() - start) / 1000);
}

async function startCluster(directory: string): Promise<RaftNode[]> {
  const network = new InMemoryNetwork();
  const random = new SeededRandom(2026);
  const confState = { voters: [1, 2, 3].map(asNodeId), learners: [] };
  return Promise.all(
    [1, 2, 3].map(async (id) =>
      RaftNode.start({
        id,
        log: counted(await LevelLogStore.open(join(directory, `node-${id}`), { confState })),
        stateMachine: new CountingMachine(),
        transport: network.connect(asNodeId(id)),
        clock: systemClock,
        randomInt: (n) => random.int(n),
        tickIntervalMs: 20,
        raft: { electionTimeoutTicks: 10, heartbeatIntervalTicks: 2 },
      }),
    ),
  );
}

async function waitForLeader(nodes: RaftNode[]): Promise<RaftNode> {
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    const leader = nodes.find((n) => n.raw.status().softState.role === 'leader');
    if (leader !== undefined && leader.raw.status().applied > 0) {
      return leader;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('bench:raft: no leader within 10 s');
}

interface PhaseResult {
  proposers: number;
  commitsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  fsyncsPerSecond: number;
  failed: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

function currentLeader(nodes: readonly RaftNode[], fallback: RaftNode): RaftNode {
  return nodes.find((n) => n.raw.status().softState.role === 'leader') ?? fallback;
}

async function runPhase(nodes: readonly RaftNode[], proposers: number): Promise<PhaseResult> {
  let leader = currentLeader(nodes, nodes[0] as RaftNode);
  const value = new Uint8Array(valueBytes).fill(42);
  const latencies: number[] = [];
  let failed = 0;
  let measuring = false;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const start = performance.now();
      const outcome = await leader.propose(value);
      if (measuring) {
        if (outcome.ok) {
          latencies.push(performance.now() - start);
        } else {
          failed++;
        }
      }
      if (!outcome.ok) {
        // NB: a refusal resolves at once; yield to timers and follow the new leader, or the
        // workers would spin on microtasks and starve the phase timer.
        await new Promise((resolve) => setImmediate(resolve));
        leader = currentLeader(nodes, leader);
      }
    }
  };
  const workers = Array.from({ length: proposers }, () => worker());
  await new Promise((resolve) => setTimeout(resolve, 500)); // warm-up
  measuring = true;
  const syncsBefore = syncs.count;
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, phaseSeconds * 1000));
  measuring = false;
  const seconds = (performance.now() - start) / 1000;
  const syncsDone = syncs.count - syncsBefore;
  stop = true;
  await Promise.all(workers);
  latencies.sort((a, b) => a - b);
  return {
    proposers,
    commitsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    fsyncsPerSecond: syncsDone / seconds,
    failed,
  };
}

async function main(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'coffer-bench-raft-'));
  try {
    const fsyncRate = serialFdatasyncPerSecond(directory);
    const nodes = await startCluster(directory);
    await waitForLeader(nodes);
    const results: PhaseResult[] = [];
    for (const proposers of concurrencies) {
      results.push(await runPhase(nodes, proposers));
    }
    await Promise.all(nodes.map((n) => n.stop()));
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    console.log(`bench:raft — ${cpus().length} cores, ${cpu}, Node ${process.version}`);
    console.log(
      `3 nodes in one process, LevelDB logs in ${tmpdir()}, ${valueBytes}-byte entries, ${phaseSeconds} s per phase`,
    );
    console.log(
      `baseline: serial 4 KiB write + fdatasync = ${fsyncRate.toFixed(0)}/s on the same disk\n`,
    );
    console.log(
      'proposers | commits/s | × fsync baseline | p50 ms | p99 ms | fsyncs/s (3 nodes) | failed',
    );
    for (const r of results) {
      console.log(
        `${String(r.proposers).padStart(9)} | ${r.commitsPerSecond.toFixed(0).padStart(9)} | ` +
          `${(r.commitsPerSecond / fsyncRate).toFixed(2).padStart(16)} | ${r.p50Ms.toFixed(2).padStart(6)} | ` +
          `${r.p99Ms.toFixed(2).padStart(6)} | ${r.fsyncsPerSecond.toFixed(0).padStart(18)} | ${r.failed}`,
      );
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

await main();
