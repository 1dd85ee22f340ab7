/**
 * A server process's CPU by thread role, from /proc/<pid>/task/<tid>/{stat,io,comm}: what a V8
 * CPU profile cannot see, since it samples the main thread only.
 *
 *   main      the JavaScript thread (tid = pid): split by stage with a CPU profile
 *   io        a thread that made write syscalls in the window: libuv's pool (file writes,
 *             fdatasync, LevelDB batch writes and reads), whose threads wake the event loop with
 *             an eventfd write after each task, and LevelDB's own background thread (compaction)
 *   helper    every other thread: V8's platform workers (concurrent marking and sweeping, JIT
 *             compilation), which make no write syscall
 *   profiler  V8's profiler thread (`v8:ProfEvntProc`), there with --cpu-prof only
 *
 * Node 20 names none of its threads, so the io/helper split is by behaviour (checked on Node
 * 20.20: a pool thread that only ran fdatasync still wrote its wake-ups; GC workers wrote
 * nothing).
 */
import { readdirSync, readFileSync } from 'node:fs';

import { statCpuSeconds } from './proc_cpu.ts';

/** What a thread does. */
export type ThreadRole = 'main' | 'io' | 'helper' | 'profiler';

/** The roles, in print order. */
export const threadRoles: readonly ThreadRole[] = ['main', 'io', 'helper', 'profiler'];

interface ThreadReading {
  readonly cpuSeconds: number;
  /** Write syscalls so far (/proc/<pid>/task/<tid>/io syscw). */
  readonly writes: number;
  readonly comm: string;
}

/** Every thread of every process by name, then by tid. */
export type ThreadsReading = ReadonlyMap<string, ReadonlyMap<string, ThreadReading>>;

function writeSyscalls(file: string): number {
  try {
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('syscw: '));
    return Number(line?.slice('syscw: '.length) ?? 0);
  } catch {
    return 0;
  }
}

function readThreads(pid: number): Map<string, ThreadReading> {
  const threads = new Map<string, ThreadReading>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    const dir = `/proc/${pid}/task/${tid}`;
    const cpuSeconds = statCpuSeconds(`${dir}/stat`);
    if (cpuSeconds === undefined) {
      continue;
    }
    let comm = '';
    try {
      comm = readFileSync(`${dir}/comm`, 'utf8').trim();
    } catch {
      // NB: the thread ended between the listing and this read; its name does not matter.
    }
    threads.set(tid, { cpuSeconds, comm, writes: writeSyscalls(`${dir}/io`) });
  }
  return threads;
}

/** Reads every thread of every process of `pids` (by name). */
export function readThreadsOf(pids: ReadonlyMap<string, number>): ThreadsReading {
  return new Map([...pids].map(([name, pid]) => [name, readThreads(pid)]));
}

function roleOf(tid: string, pid: string, delta: { writes: number; comm: string }): ThreadRole {
  if (tid === pid) {
    return 'main';
  }
  if (delta.comm.startsWith('v8:Prof')) {
    return 'profiler';
  }
  return delta.writes > 0 ? 'io' : 'helper';
}

/**
 * The CPU seconds of each process (by name) by thread role between two readings: threads in
 * both, each given a role by what it did in between.
 */
export function threadCpuBetween(
  before: ThreadsReading,
  after: ThreadsReading,
  pids: ReadonlyMap<string, number>,
): Record<string, Record<ThreadRole, number>> {
  const result: Record<string, Record<ThreadRole, number>> = {};
  for (const [name, threads] of after) {
    const earlier = before.get(name);
    const pid = String(pids.get(name) ?? '');
    const roles: Record<ThreadRole, number> = { main: 0, io: 0, helper: 0, profiler: 0 };
    for (const [tid, now] of threads) {
      const then = earlier?.get(tid);
      if (then === undefined) {
        continue;
      }
      const role = roleOf(tid, pid, { writes: now.writes - then.writes, comm: now.comm });
      roles[role] += now.cpuSeconds - then.cpuSeconds;
    }
    for (const role of threadRoles) {
      roles[role] = Math.round(roles[role] * 100) / 100;
    }
    result[name] = roles;
  }
  return result;
}
