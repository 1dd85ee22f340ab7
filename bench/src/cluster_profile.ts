/**
 * Where Coffer's CPU per request goes in a `--profile` run (issue 11 item 5): the CPU profile of
 * every node (`--cpu-prof`) cut to the measured windows of a phase, summed over the cluster and
 * divided by the requests Coffer acknowledged in them, beside etcd's CPU per request in the same
 * cells (the baseline of the same run).
 *
 *   whole processes (/proc) = main + io + helper (+ profiler) threads (cluster_threads.ts)
 *   main threads            = each node's main-thread CPU (/proc) split by its profile's
 *                             shares of samples per stage (cpu_profile_stages.ts); a sample
 *                             is wall time, so the profile gives shares and /proc the CPU
 *   io threads              = libuv's pool and LevelDB's background thread: one stage
 *   helper threads          = V8's GC and compiler threads: one stage
 *   profiler thread         = the cost of --profile itself: printed, left out of the total
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

import type { PhaseCell } from './cluster_phases.ts';
import { readCpuProfile, stagesOf } from './cpu_profile_stages.ts';

/** The stages of the threads besides the main one (cluster_threads.ts). */
export const ioThreadsStage =
  'I/O threads: libuv pool + LevelDB background (log/state batch writes, fsync, audit writes + fdatasync)';
export const helperThreadsStage = 'V8 helper threads (concurrent GC, JIT compilation)';
/** The profiler's own thread: a cost of --profile, left out of the per-request CPU. */
const profilerStage = 'CPU profiler thread (--profile only)';

/** The stage of main-thread CPU in a window its profile has no sample of. */
const unsampledStage = 'unattributed: main-thread CPU without profile samples';

/** One phase's CPU per request, cluster-wide. */
export interface PhaseAttribution {
  readonly phase: string;
  readonly cofferOps: number;
  /** Server CPU per request (ms), every Coffer process and every etcd process. */
  readonly cofferMsPerOp: number;
  readonly etcdMsPerOp: number | undefined;
  /** Stage → ms per request, largest first; they sum to cofferMsPerOp. */
  readonly stages: readonly (readonly [string, number])[];
  /** The share of cofferMsPerOp in named stages (not "unattributed"). */
  readonly namedShare: number;
  /** The profiler thread's CPU per request, left out of cofferMsPerOp. */
  readonly profilerMsPerOp: number;
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) {
    total += value;
  }
  return total;
}

function serverSeconds(cpu: Readonly<Record<string, number>>): number {
  return sum(
    Object.entries(cpu)
      .filter(([name]) => name !== 'loadgen')
      .map(([, seconds]) => seconds),
  );
}

/** The CPU profile of each node (by node name), from the files `--cpu-prof` wrote into `dir`. */
export async function nodeProfiles(
  dir: string,
  pids: ReadonlyMap<string, number>,
): Promise<Map<string, string>> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  const found = new Map<string, string>();
  for (const [node, pid] of pids) {
    const file = files.find((f) => f.includes(`.${pid}.0.`));
    if (file !== undefined) {
      found.set(node, join(dir, file));
    }
  }
  return found;
}

/** The attribution of one steady phase over every cell of it. */
export function attributePhase(
  phase: string,
  cells: readonly PhaseCell[],
  profiles: ReadonlyMap<string, string>,
): PhaseAttribution {
  const coffer = cells.flatMap((cell) => {
    const result = cell.systems['coffer'];
    return result === undefined ? [] : [result];
  });
  const etcd = cells.flatMap((cell) => {
    const result = cell.systems['etcd'];
    return result === undefined ? [] : [result];
  });
  const stageMs = new Map<string, number>();
  const add = (stage: string, ms: number): void => {
    stageMs.set(stage, (stageMs.get(stage) ?? 0) + ms);
  };
  for (const [node, file] of profiles) {
    const profile = readCpuProfile(file);
    for (const cell of coffer) {
      const threads = cell.threadCpuSeconds[node];
      const mainMs = 1000 * (threads?.main ?? 0);
      // NB: a sample's time is wall time: on a shared machine a thread waiting for a core looks
      // busy too. So the profile gives each stage's share, and /proc the CPU it is a share of.
      const breakdown = stagesOf(profile, [cell.monotonicUs]);
      for (const [stage, ms] of breakdown.stages) {
        add(stage, breakdown.totalMs > 0 ? (mainMs * ms) / breakdown.totalMs : 0);
      }
      if (breakdown.totalMs === 0) {
        add(unsampledStage, mainMs);
      }
      add(ioThreadsStage, 1000 * (threads?.io ?? 0));
      add(helperThreadsStage, 1000 * (threads?.helper ?? 0));
      add(profilerStage, 1000 * (threads?.profiler ?? 0));
    }
  }
  const ops = sum(coffer.map((c) => c.stats.ops));
  const profilerMs = stageMs.get(profilerStage) ?? 0;
  stageMs.delete(profilerStage);
  const totalMs = sum(stageMs.values());
  const perOp = (ms: number): number => (ops > 0 ? ms / ops : 0);
  const named = sum([...stageMs].filter(([s]) => !s.startsWith('unattributed')).map(([, v]) => v));
  const etcdOps = sum(etcd.map((e) => e.stats.ops));
  return {
    phase,
    cofferOps: ops,
    cofferMsPerOp: perOp(totalMs),
    etcdMsPerOp:
      etcdOps > 0
        ? (1000 * sum(etcd.map((e) => serverSeconds(e.cpuSeconds)))) / etcdOps
        : undefined,
    stages: [...stageMs].map(([s, ms]) => [s, perOp(ms)] as const).sort((a, b) => b[1] - a[1]),
    namedShare: totalMs > 0 ? named / totalMs : 0,
    profilerMsPerOp: perOp(profilerMs),
  };
}

/** The printed lines of one phase's attribution. */
export function attributionLines(a: PhaseAttribution): string[] {
  const etcd =
    a.etcdMsPerOp === undefined
      ? ''
      : `; etcd ${a.etcdMsPerOp.toFixed(3)} ms/op in the same cells, coffer/etcd ${(a.cofferMsPerOp / a.etcdMsPerOp).toFixed(2)}×`;
  return [
    `Coffer server CPU per request by stage, ${a.phase} (3 nodes, ${a.cofferOps} requests): ${a.cofferMsPerOp.toFixed(3)} ms/op${etcd}`,
    ...a.stages.map(
      ([stage, ms]) =>
        `  ${stage.padEnd(58)} ${ms.toFixed(3).padStart(7)} ms/op ${((100 * ms) / a.cofferMsPerOp).toFixed(1).padStart(5)} %`,
    ),
    `  named stages: ${(100 * a.namedShare).toFixed(1)} % of the per-request CPU (left out: the profiler thread, ${a.profilerMsPerOp.toFixed(3)} ms/op)`,
  ];
}

/** Coffer's server CPU per request by thread role in each steady phase (every run prints it). */
export function threadRoleLines(cells: readonly PhaseCell[]): string[] {
  const lines: string[] = [];
  for (const phase of new Set(cells.map((cell) => cell.phase))) {
    const coffer = cells.flatMap((cell) =>
      cell.phase === phase && cell.systems['coffer'] !== undefined ? [cell.systems['coffer']] : [],
    );
    const ops = sum(coffer.map((c) => c.stats.ops));
    if (ops === 0) {
      continue;
    }
    const roles = new Map<string, number>();
    for (const cell of coffer) {
      for (const threads of Object.values(cell.threadCpuSeconds)) {
        for (const [role, seconds] of Object.entries(threads)) {
          roles.set(role, (roles.get(role) ?? 0) + seconds);
        }
      }
    }
    const total = sum(roles.values());
    const parts = [...roles]
      .filter(([, seconds]) => seconds > 0)
      .map(
        ([role, seconds]) =>
          `${role} ${((1000 * seconds) / ops).toFixed(3)} (${((100 * seconds) / total).toFixed(0)} %)`,
      );
    lines.push(`  ${phase}: ${((1000 * total) / ops).toFixed(3)} ms/op = ${parts.join(' + ')}`);
  }
  return lines.length === 0
    ? []
    : [
        'Coffer server CPU per request by thread (main: JavaScript; io: libuv pool + LevelDB; helper: V8 GC/JIT), all client counts:',
        ...lines,
      ];
}
