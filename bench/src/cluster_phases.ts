/**
 * The steady phases of `npm run bench:cluster`: writes, linearizable reads on the leader and
 * linearizable reads spread over every node, at each client count. For each cell the load
 * generator first drives the no-op server (the client-bound check), then Coffer, then etcd, each
 * for the warm-up and then the measured time, reading every server's CPU seconds, its own, and
 * the leader (and its term) before and after.
 */
import { closedLoop, statsOf, type SampleStats } from './closed_loop.ts';
import type { PhaseName } from './cluster_options.ts';
import {
  channelsMax,
  type BenchSystem,
  type LoadTarget,
  type Operation,
} from './cluster_system.ts';
import { clientBoundFactor, type NoopServer } from './noop_server.ts';
import { threadCpuBetween, readThreadsOf, type ThreadRole } from './cluster_threads.ts';
import { cpuBetween, readCpu } from './proc_cpu.ts';

/** The longest the no-op baseline is measured, in seconds. */
const noopSecondsMax = 5;

/** What one system did in one cell. */
export interface SystemCell {
  readonly stats: SampleStats;
  /** CPU seconds per server process and `loadgen`, over the measured time. */
  readonly cpuSeconds: Readonly<Record<string, number>>;
  /** Each server process's CPU seconds by thread role (cluster_threads.ts). */
  readonly threadCpuSeconds: Readonly<Record<string, Readonly<Record<ThreadRole, number>>>>;
  readonly leaderBefore: string;
  readonly leaderAfter: string;
  /** Raft terms the leader's term advanced by: each leader change takes at least one. */
  readonly leaderChanges: number;
  /** The no-op server did not reach 2× this system's rate. */
  readonly clientBound: boolean;
  readonly firstError: string | undefined;
  /** The measured time on CLOCK_MONOTONIC in µs (a CPU profile's clock), to cut profiles. */
  readonly monotonicUs: readonly [number, number];
}

/** One phase at one client count. */
export interface PhaseCell {
  readonly phase: Exclude<PhaseName, 'failover'>;
  readonly clients: number;
  readonly noop: SampleStats & { readonly cpuSeconds: Readonly<Record<string, number>> };
  readonly systems: Readonly<Record<string, SystemCell>>;
  /**
   * The phase is client-bound: the no-op server did not reach 2× the rate of either system, so
   * the load generator may have limited what the phase measured.
   */
  readonly clientBound: boolean;
  /** The no-op rate over the fastest system's rate (≥ 2: not client-bound; 0: nothing measured). */
  readonly noopHeadroom: number;
}

/** How long, and how hard. */
export interface CellTiming {
  readonly seconds: number;
  readonly warmupSeconds: number;
}

/** CLOCK_MONOTONIC in µs: the clock of V8's CPU profile timestamps on Linux. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function errorText(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : 'failed';
  return typeof code === 'string' || typeof code === 'number' ? `${code}: ${message}` : message;
}

async function drive(
  target: LoadTarget,
  run: { callers: number; timing: CellTiming; seconds: number },
  pids: () => ReadonlyMap<string, number>,
) {
  if (run.timing.warmupSeconds > 0) {
    await closedLoop(target.senders, { callers: run.callers, seconds: run.timing.warmupSeconds });
  }
  let firstError: string | undefined;
  const before = readCpu(pids());
  const threadsBefore = readThreadsOf(pids());
  const fromUs = monotonicUs();
  const sample = await closedLoop(target.senders, {
    callers: run.callers,
    seconds: run.seconds,
    onFirstError: (error) => (firstError = errorText(error)),
  });
  const toUs = monotonicUs();
  const cpuSeconds = cpuBetween(before, readCpu(pids()));
  const threadCpuSeconds = threadCpuBetween(threadsBefore, readThreadsOf(pids()), pids());
  target.close();
  return {
    stats: statsOf(sample),
    cpuSeconds,
    threadCpuSeconds,
    firstError,
    monotonicUs: [fromUs, toUs] as const,
  };
}

function operationOf(phase: PhaseCell['phase']): Operation {
  return phase === 'writes' ? 'write' : 'read';
}

async function measureSystem(
  system: BenchSystem,
  cell: { phase: PhaseCell['phase']; clients: number; timing: CellTiming },
): Promise<Omit<SystemCell, 'clientBound'>> {
  const before = await system.leader();
  const addresses = cell.phase === 'reads-all' ? system.addresses() : [before.address];
  const target = system.target(operationOf(cell.phase), {
    addresses,
    channels: Math.min(cell.clients, channelsMax),
  });
  const run = { callers: cell.clients, timing: cell.timing, seconds: cell.timing.seconds };
  const measured = await drive(target, run, () => system.pids());
  const after = await system.leader();
  return {
    ...measured,
    leaderBefore: before.node,
    leaderAfter: after.node,
    leaderChanges: after.term - before.term,
  };
}

/** Runs one cell: the no-op baseline, then each system in turn. */
export async function runCell(
  systems: readonly BenchSystem[],
  noop: NoopServer,
  cell: { phase: PhaseCell['phase']; clients: number; timing: CellTiming },
): Promise<PhaseCell> {
  const noopTarget = noop.target(operationOf(cell.phase), Math.min(cell.clients, channelsMax));
  const noopRun = {
    callers: cell.clients,
    timing: cell.timing,
    seconds: Math.min(cell.timing.seconds, noopSecondsMax),
  };
  const baseline = await drive(noopTarget, noopRun, () => new Map([['noop', noop.pid]]));
  const results: Record<string, SystemCell> = {};
  for (const system of systems) {
    const measured = await measureSystem(system, cell);
    results[system.name] = {
      ...measured,
      clientBound: baseline.stats.opsPerSecond < clientBoundFactor * measured.stats.opsPerSecond,
    };
  }
  const fastest = Math.max(0, ...Object.values(results).map((r) => r.stats.opsPerSecond));
  return {
    phase: cell.phase,
    clients: cell.clients,
    noop: { ...baseline.stats, cpuSeconds: baseline.cpuSeconds },
    systems: results,
    clientBound: Object.values(results).some((result) => result.clientBound),
    noopHeadroom: fastest > 0 ? baseline.stats.opsPerSecond / fastest : 0,
  };
}
