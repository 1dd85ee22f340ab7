/**
 * CPU seconds of processes, read from /proc/<pid>/stat (utime + stime, in clock ticks), and of
 * this process from process.cpuUsage(): what each server and the load generator spent in a
 * phase is the difference of two readings. By thread: cluster_threads.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (getconf CLK_TCK; 100 on Linux). */
const ticksPerSecond = ((): number => {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isSafeInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
})();

/** The CPU seconds (user + system) process `pid` has used; undefined when it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** The CPU seconds (user + system) of a /proc stat file (a process's or a thread's). */
export function statCpuSeconds(file: string): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  // NB: the command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime)
    ? (utime + stime) / ticksPerSecond
    : undefined;
}

/** The CPU seconds this process (the load generator) has used. */
export function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** Readings of several processes by name, to subtract. */
export type CpuReading = ReadonlyMap<string, number>;

/** Reads every process of `pids` (by name) and this process as `loadgen`. */
export function readCpu(pids: ReadonlyMap<string, number>): CpuReading {
  const reading = new Map<string, number>([['loadgen', ownCpuSeconds()]]);
  for (const [name, pid] of pids) {
    const seconds = processCpuSeconds(pid);
    if (seconds !== undefined) {
      reading.set(name, seconds);
    }
  }
  return reading;
}

/** The CPU seconds each process used between two readings (names in both). */
export function cpuBetween(before: CpuReading, after: CpuReading): Record<string, number> {
  const used: Record<string, number> = {};
  for (const [name, seconds] of after) {
    const start = before.get(name);
    if (start !== undefined) {
      used[name] = Math.round((seconds - start) * 100) / 100;
    }
  }
  return used;
}
