/**
 * `npm run bench:raft`: committed proposals per second, commit latency and fsyncs per second of
 * a three-node Raft cluster in one process, with real LevelDB logs on disk and every message
 * encoded to the wire format, at 1, 16 and 256 concurrent proposers. Each node runs in its own
 * worker thread (raft_bench_node.ts) with its proposers, as three servers would use the cores;
 * the main thread only orchestrates and aggregates. The baseline, measured in the
 * same run on the same disk, is the serial rate of 4 KiB writes each followed by fdatasync:
 * what a log without group commit could do at best.
 *
 * Options: --seconds <n> per phase (default 3), --value-bytes <n> (default 128),
 * --proposers <list> (default 1,16,256).
 */
import { mkdtempSync, openSync, closeSync, writeSync, fdatasyncSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { NodeSetup, ToMain, ToNode } from './raft_bench_protocol.ts';

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
const concurrencies = listOption('proposers', [1, 16, 256]);

function listOption(name: string, fallback: number[]): number[] {
  const i = process.argv.indexOf(`--${name}`);
  const values = i >= 0 ? (process.argv[i + 1] ?? '').split(',').map(Number) : fallback;
  if (values.length === 0 || values.some((v) => !Number.isSafeInteger(v) || v <= 0)) {
    console.error(`bench:raft: --${name} takes a comma-separated list of positive integers`);
    process.exit(1);
  }
  return values;
}

/** A node thread and a way to ask it something and wait for the answer. */
class NodeThread {
  readonly #worker: Worker;
  #pending: ((m: ToMain) => void)[] = [];

  constructor(setup: NodeSetup, transfer: MessagePort[]) {
    // NB: the node thread is TypeScript too, and the tsx CLI's loader does not reach workers:
    // a two-line bootstrap loads it through tsx's API.
    const entry = new URL('./raft_bench_node.ts', import.meta.url).href;
    const bootstrap = `import('tsx/esm/api').then((tsx) => tsx.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}));`;
    this.#worker = new Worker(bootstrap, {
      eval: true,
      workerData: setup,
      transferList: transfer,
      execArgv: ['--conditions=@coffer/source'],
    });
    this.#worker.on('message', (m: ToMain) => {
      this.#pending.shift()?.(m);
    });
    this.#worker.on('error', (error) => {
      console.error(`bench:raft: node ${setup.id} failed:`, error);
      process.exit(1);
    });
  }

  /** Waits for the next message from the thread. */
  next(): Promise<ToMain> {
    return new Promise((resolve) => this.#pending.push(resolve));
  }

  ask(message: ToNode): Promise<ToMain> {
    const answer = this.next();
    this.#worker.postMessage(message);
    return answer;
  }

  async stop(): Promise<void> {
    await this.ask({ kind: 'stop' });
    await this.#worker.terminate();
  }
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

async function startCluster(directory: string): Promise<NodeThread[]> {
  const ids = [1, 2, 3];
  const ports = new Map<number, Record<number, MessagePort>>(ids.map((id) => [id, {}]));
  for (const a of ids) {
    for (const b of ids.filter((id) => id > a)) {
      const channel = new MessageChannel();
      (ports.get(a) as Record<number, MessagePort>)[b] = channel.port1;
      (ports.get(b) as Record<number, MessagePort>)[a] = channel.port2;
    }
  }
  const threads = ids.map((id) => {
    const peers = ports.get(id) as Record<number, MessagePort>;
    return new NodeThread({ id, voters: ids, directory, peers }, Object.values(peers));
  });
  await Promise.all(threads.map((t) => t.next()));
  return threads;
}

async function waitForLeader(threads: readonly NodeThread[]): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    const statuses = await Promise.all(threads.map((t) => t.ask({ kind: 'status' })));
    if (statuses.some((s) => s.kind === 'status' && s.leader && s.applied > 0)) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('bench:raft: no leader within 10 s');
}

/** The highest term any node is at. */
async function highestTerm(threads: readonly NodeThread[]): Promise<number> {
  const statuses = await Promise.all(threads.map((t) => t.ask({ kind: 'status' })));
  return Math.max(...statuses.map((s) => (s.kind === 'status' ? s.term : 0)));
}

interface PhaseResult {
  proposers: number;
  commitsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  fsyncsPerSecond: number;
  failures: Record<string, number>;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

async function runPhase(threads: readonly NodeThread[], proposers: number): Promise<PhaseResult> {
  const reports = await Promise.all(
    threads.map((t) =>
      t.ask({
        kind: 'phase',
        proposers,
        valueBytes,
        warmupMs: 500,
        measureMs: phaseSeconds * 1000,
      }),
    ),
  );
  const done = reports.flatMap((r) => (r.kind === 'phaseDone' ? [r.report] : []));
  const count = done.reduce((n, r) => n + r.latencies.length, 0);
  const latencies = new Float64Array(count);
  let offset = 0;
  const failures: Record<string, number> = {};
  for (const r of done) {
    latencies.set(r.latencies, offset);
    offset += r.latencies.length;
    for (const [code, n] of Object.entries(r.failures)) {
      failures[code] = (failures[code] ?? 0) + n;
    }
  }
  latencies.sort();
  const seconds = Math.max(...done.map((r) => r.seconds));
  return {
    proposers,
    commitsPerSecond: count / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    fsyncsPerSecond: done.reduce((n, r) => n + r.syncs, 0) / seconds,
    failures,
  };
}

async function main(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'coffer-bench-raft-'));
  try {
    const fsyncRate = serialFdatasyncPerSecond(directory);
    const threads = await startCluster(directory);
    await waitForLeader(threads);
    const termBefore = await highestTerm(threads);
    const results: PhaseResult[] = [];
    for (const proposers of concurrencies) {
      results.push(await runPhase(threads, proposers));
    }
    // NB: each election is a new term; under steady load there should be none.
    const leaderChanges = (await highestTerm(threads)) - termBefore;
    await Promise.all(threads.map((t) => t.stop()));
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    console.log(`bench:raft — ${cpus().length} cores, ${cpu}, Node ${process.version}`);
    console.log(
      `3 nodes in one process (a worker thread each), LevelDB logs in ${tmpdir()}, ${valueBytes}-byte entries, ${phaseSeconds} s per phase`,
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
          `${r.p99Ms.toFixed(2).padStart(6)} | ${r.fsyncsPerSecond.toFixed(0).padStart(18)} | ${describeFailures(r.failures)}`,
      );
    }
    console.log(`\nleader changes during the phases (terms advanced): ${String(leaderChanges)}`);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function describeFailures(failures: Record<string, number>): string {
  const parts = Object.entries(failures).map(([code, n]) => `${n} ${code}`);
  return parts.length === 0 ? '0' : parts.join(', ');
}

await main();
