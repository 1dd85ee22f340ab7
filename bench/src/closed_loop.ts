/**
 * The load of `npm run bench:cluster`, the same for every system it drives: N closed-loop
 * callers spread over a few senders (one gRPC channel each, one TLS connection each), each
 * caller sending its next request when the last one answered, for a fixed time. Every request
 * takes the next index of one shared counter, so all systems see the same key sequence.
 *
 * A failed request is counted, not retried here (retrying is the sender's business, as in the
 * failover phase), and its caller pauses briefly so a dead node does not turn into a busy loop.
 */

/** Sends request number `index`; resolves when it was acknowledged, rejects when it failed. */
export type Send = (index: number) => Promise<void>;

/** What one run of callers measured. */
export interface Sample {
  ops: number;
  errors: number;
  seconds: number;
  readonly latenciesMs: number[];
}

/** When one request was sent and when it ended (ms, performance.now()), and whether it failed. */
export interface RequestTiming {
  readonly sentAtMs: number;
  readonly endedAtMs: number;
  readonly ok: boolean;
}

/** A run: how many callers, for how long, and who hears about each request. */
export interface LoadRun {
  readonly callers: number;
  readonly seconds: number;
  /** Called as each request ends (the failover phase's clock). */
  readonly onRequest?: (timing: RequestTiming) => void;
  /** Called with the first error (a hint for the operator; no secret is in a gRPC status). */
  readonly onFirstError?: (error: unknown) => void;
}

/** The pause of a caller after a failed request. */
const errorPauseMs = 10;

/** A fresh, empty sample. */
export function emptySample(): Sample {
  return { ops: 0, errors: 0, seconds: 0, latenciesMs: [] };
}

/** Runs `run.callers` closed-loop callers over `senders` and adds what they saw to `sample`. */
export async function closedLoop(
  senders: readonly Send[],
  run: LoadRun,
  sample: Sample = emptySample(),
): Promise<Sample> {
  const started = performance.now();
  const endAt = started + run.seconds * 1000;
  let next = 0;
  let reported = false;
  const caller = async (c: number): Promise<void> => {
    const send = senders[c % senders.length];
    while (send !== undefined && performance.now() < endAt) {
      const sentAtMs = performance.now();
      let ok = true;
      try {
        await send(next++);
      } catch (error) {
        ok = false;
        if (!reported) {
          reported = true;
          run.onFirstError?.(error);
        }
      }
      const endedAtMs = performance.now();
      run.onRequest?.({ sentAtMs, endedAtMs, ok });
      if (ok) {
        sample.latenciesMs.push(endedAtMs - sentAtMs);
        sample.ops++;
      } else {
        sample.errors++;
        await new Promise((resolve) => setTimeout(resolve, errorPauseMs));
      }
    }
  };
  await Promise.all(Array.from({ length: run.callers }, (_, c) => caller(c)));
  sample.seconds += (performance.now() - started) / 1000;
  return sample;
}

/** Throughput and latency of a sample. */
export interface SampleStats {
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly ops: number;
  readonly errors: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

/** The rate and the p50, p99 and p99.9 latencies of `sample`. */
export function statsOf(sample: Sample): SampleStats {
  const sorted = Float64Array.from(sample.latenciesMs).sort();
  return {
    opsPerSecond: sample.seconds > 0 ? sample.ops / sample.seconds : 0,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
    ops: sample.ops,
    errors: sample.errors,
  };
}
