/**
 * The failover phase of `npm run bench:cluster`: writers that know every node (Coffer's client
 * with `addresses`; for etcd a sender that retries on the next member the same way) write for a
 * while, the leader is SIGKILLed, and they go on writing. Measured: the time from the kill to
 * the first acknowledged write sent after it, and the requests that failed (a write whose
 * retries all failed before their 10 s deadline). Target: Coffer resumes within 3 s with no
 * failed request.
 */
import { closedLoop, statsOf, type RequestTiming, type SampleStats } from './closed_loop.ts';
import { channelsMax, type BenchSystem } from './cluster_system.ts';
import { cpuBetween, readCpu } from './proc_cpu.ts';

/** The writers of the failover phase. */
export const failoverCallers = 64;
/** The failover phase runs at least this long, so a slow election still shows. */
const failoverSecondsMin = 8;

/** What one system did when its leader was killed. */
export interface FailoverResult {
  readonly killed: string;
  readonly leaderAfter: string;
  /** From the kill to the first acknowledged write sent after it; undefined: never resumed. */
  readonly resumeMs: number | undefined;
  /**
   * From the kill to the first acknowledged probe: a fresh write sent every 50 ms after the
   * kill on a channel of its own, so callers stuck on requests from before the kill (which
   * may wait for a server-side timeout) do not hide when the cluster took writes again.
   */
  readonly probeResumeMs: number | undefined;
  readonly failed: number;
  readonly stats: SampleStats;
  readonly cpuSeconds: Readonly<Record<string, number>>;
  readonly leaderChanges: number;
}

/** The interval of the failover probe's writes. */
const probeIntervalMs = 50;

/** Sends a write every 50 ms until one is acknowledged or `untilMs`; when it was, if it was. */
async function probe(system: BenchSystem, untilMs: number): Promise<number | undefined> {
  const target = system.failoverTarget(1);
  const [send] = target.senders;
  let ackedAtMs: number | undefined;
  const pending: Promise<void>[] = [];
  for (let index = 0; send !== undefined && ackedAtMs === undefined; index++) {
    if (performance.now() > untilMs) {
      break;
    }
    pending.push(
      send(index).then(
        () => {
          ackedAtMs ??= performance.now();
        },
        () => undefined,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, probeIntervalMs));
  }
  await Promise.all(pending);
  target.close();
  return ackedAtMs;
}

/** Runs the failover phase against `system`; its leader stays dead afterwards. */
export async function runFailover(system: BenchSystem, seconds: number): Promise<FailoverResult> {
  const duration = Math.max(seconds, failoverSecondsMin);
  const target = system.failoverTarget(channelsMax);
  const kill: { atMs?: number } = {};
  let resumedAtMs: number | undefined;
  const onRequest = (timing: RequestTiming): void => {
    if (
      timing.ok &&
      kill.atMs !== undefined &&
      timing.sentAtMs >= kill.atMs &&
      (resumedAtMs === undefined || timing.endedAtMs < resumedAtMs)
    ) {
      resumedAtMs = timing.endedAtMs;
    }
  };
  const pids = system.pids();
  const before = readCpu(pids);
  const loop = closedLoop(target.senders, {
    callers: failoverCallers,
    seconds: duration,
    onRequest,
  });
  await new Promise((resolve) => setTimeout(resolve, (duration * 1000) / 4));
  const killed = await system.killLeader();
  const killedAtMs = performance.now();
  kill.atMs = killedAtMs;
  const probeAckedAtMs = await probe(system, killedAtMs + duration * 750);
  const sample = await loop;
  const cpuSeconds = cpuBetween(before, readCpu(pids));
  target.close();
  const after = await system.leader();
  return {
    killed: killed.node,
    leaderAfter: after.node,
    resumeMs: resumedAtMs === undefined ? undefined : Math.round(resumedAtMs - killedAtMs),
    probeResumeMs:
      probeAckedAtMs === undefined ? undefined : Math.round(probeAckedAtMs - killedAtMs),
    failed: sample.errors,
    stats: statsOf(sample),
    cpuSeconds,
    leaderChanges: after.term - killed.term,
  };
}
