/**
 * The read point of a stale read (router/stale_read.ts, docs/design/cluster.md §6): the usual
 * ReadIndex round. When the leader gives its read index within `waitMs`, the request waits for
 * this node to apply up to it, as any read does, so it is linearizable after all, its token and
 * policy checks included, however slowly this node applies. Only when no leader answers in
 * time (the round is refused at once while the node knows no leader, or the leader is cut off)
 * is the request served from what this node has applied.
 *
 * NB: the round is not cancelled on a timeout: it is shared with other requests
 * (SecureStore.readRound) and ends by itself at the Raft request timeout.
 */
import type { DriverClock } from '@coffer/raft/node';

import type { SecureStore } from '../replicated/secure_store.ts';
import type { StaleRead } from '../router/request.ts';

/**
 * How long a stale read waits for the leader's read index: a round trip to the leader takes
 * well under this on a healthy cluster, and it is short next to an election timeout, so a
 * cut-off node answers fast.
 */
export const staleReadWaitMsDefault = 250;

/** What a stale read point works with. */
export interface StaleReadPointOptions {
  readonly secure: SecureStore;
  readonly clock: DriverClock;
  /** How long to wait for the leader's read index; default {@link staleReadWaitMsDefault}. */
  readonly waitMs?: number | undefined;
}

/**
 * A function that waits for a stale read's read point: undefined when the ReadIndex round
 * completed (the read is linearizable), else the index this node had applied.
 */
export function staleReadPoint(
  options: StaleReadPointOptions,
): () => Promise<StaleRead | undefined> {
  const { secure, clock } = options;
  const waitMs = options.waitMs ?? staleReadWaitMsDefault;
  return async () => {
    const round = secure.readRound();
    // NB: any failure of the round (NOT_ACTIVE: no leader, or it lost leadership) means no
    // leader answered; the request still goes through every check of the router.
    const done = round.done.then(
      () => 'done' as const,
      () => 'failed' as const,
    );
    let timer: { cancel(): void } | undefined;
    const timedOut = new Promise<'timed_out'>((resolve) => {
      timer = clock.setTimer(waitMs, () => {
        resolve('timed_out');
      });
    });
    const answered = round.answered.then(() => 'answered' as const);
    let outcome: 'done' | 'failed' | 'timed_out' | 'answered';
    try {
      outcome = await Promise.race([done, answered, timedOut]);
    } finally {
      timer?.cancel();
    }
    if (outcome === 'answered') {
      // The leader answered: only applying is left, and a stale answer would be a choice.
      outcome = await done;
    }
    return outcome === 'done' ? undefined : { appliedIndex: secure.appliedIndex() };
  };
}
