/**
 * Failover across a cluster's nodes: which failed calls move to another node, and how long the
 * client waits before it sends one again. In a Coffer cluster every node accepts every request
 * (a standby forwards it to the active node), so the client only has to get past a node that is
 * down or cannot reach the active node; the request keeps its id, so a write that the dead node
 * had already committed is answered from the cluster's request-outcome table, not applied twice
 * (docs/design/cluster.md §5).
 *
 * ```
 *  call ──▶ node i ──answer──────────────────────────▶ resolve / reject (node i is sticky)
 *              │
 *              └─ UNAVAILABLE (no Coffer code), NOT_ACTIVE, NOT_READY, REMOVED, NO_LEADER
 *                    │ wait backoff(retry) if it ends before the deadline, else reject
 *                    ▼
 *                 node i+1 (mod n), same request id
 * ```
 */
import { setTimeout as delay } from 'node:timers/promises';

import { errorCodeTrailer } from './call_error.ts';
import { GrpcStatus, type TransportFailure } from './grpc_transport.ts';

/** The first backoff's ceiling, in ms; each retry doubles it. */
export const failoverBackoffMsInitial = 50;
/** The largest backoff ceiling, in ms. */
export const failoverBackoffMsMax = 1_000;

/** The server codes that mean "this node cannot serve it now, another may": retried. */
const retriedServerCodes: ReadonlySet<string> = new Set([
  'COFFER_CORE_NOT_ACTIVE',
  'COFFER_CORE_NOT_READY',
  // NB: a node removed from the cluster serves nothing; the other nodes do.
  'COFFER_CORE_REMOVED',
  // A node cut off from the quorum (a partition): another node may be on the majority's side.
  'COFFER_CORE_NO_LEADER',
]);

/** The clock, timer and random source of failover; tests pass fakes. */
export interface FailoverTiming {
  /** Now, ms since the epoch (the calls' deadlines are absolute in this clock). */
  readonly now: () => number;
  /** Resolves after `ms`. */
  readonly sleep: (ms: number) => Promise<void>;
  /** A number in [0, 1), for the jitter. */
  readonly random: () => number;
}

/** Real time, real timers and Math.random. */
export const systemFailoverTiming: FailoverTiming = {
  now: () => Date.now(),
  sleep: (ms) => delay(ms),
  random: () => Math.random(),
};

/**
 * True when `failure` says the node could not serve the call but another node may: gRPC
 * UNAVAILABLE without a Coffer code (the transport's: refused, reset, no TLS), or a server
 * answer COFFER_CORE_NOT_ACTIVE, COFFER_CORE_NOT_READY, COFFER_CORE_REMOVED or
 * COFFER_CORE_NO_LEADER whatever its status. Every other
 * failure (a refusal such as PERMISSION_DENIED or a rate limit, a deadline, a cancel) is final.
 */
export function isFailoverRetryable(failure: TransportFailure): boolean {
  const serverCode = failure.trailers[errorCodeTrailer];
  if (serverCode !== undefined) {
    return retriedServerCodes.has(serverCode);
  }
  return failure.grpcCode === GrpcStatus.unavailable;
}

/**
 * The wait before retry number `retryIndex` (0 for the first retry), in ms: "equal jitter",
 * half the ceiling plus a random part of the other half, where the ceiling starts at
 * {@link failoverBackoffMsInitial} and doubles up to {@link failoverBackoffMsMax}. The fixed
 * half keeps retries from hammering a node; the random half keeps clients from moving in step.
 */
export function failoverBackoffMs(retryIndex: number, random: () => number): number {
  const ceilingMs = Math.min(failoverBackoffMsMax, failoverBackoffMsInitial * 2 ** retryIndex);
  return Math.floor(ceilingMs / 2 + random() * (ceilingMs / 2));
}
