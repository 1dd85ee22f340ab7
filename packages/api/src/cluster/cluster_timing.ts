/**
 * The timing every client of the cluster channel shares (the Raft transport, the forward
 * client, the forwarder): the real timer, node:crypto jitter, and the defaults of reconnect
 * backoff, stream admission and keepalive, so the three cannot drift apart.
 */
import { randomInt } from 'node:crypto';

import type { ClusterTimer, ReconnectBackoff } from './raft_peer_stream.ts';

/**
 * Reconnection backoff: 100 ms doubling up to 1 s, each delay jittered. NB: the ceiling stays
 * within an election timeout, so a peer back from a partition or a restart is dialled again
 * within a second (at 5 s, a healed node's own messages could wait that long to flow).
 */
export const clusterBackoffDefault: ReconnectBackoff = { initialMs: 100, maxMs: 1_000 };

/** How long a new stream may wait to be admitted before it is given up. */
export const clusterAdmitTimeoutMsDefault = 5_000;

/** An idle connection is pinged every 10 s and must answer within 5 s. */
export const clusterKeepaliveDefault = { timeMs: 10_000, timeoutMs: 5_000 } as const;

/** Real time. */
export const realClusterTimer: ClusterTimer = {
  setTimer(delayMs, callback) {
    const handle = setTimeout(callback, delayMs);
    return {
      cancel: () => {
        clearTimeout(handle);
      },
    };
  },
};

/** Jitter from node:crypto: an integer in [0, maxExclusive). */
export function clusterRandomInt(maxExclusive: number): number {
  return randomInt(maxExclusive);
}
