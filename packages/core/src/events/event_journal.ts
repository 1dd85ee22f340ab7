/**
 * The event journal of one node (issue 10 item 4): a bounded ring of the cluster events this
 * process saw, each with an index that increases by one per event, and a wait for the next
 * event that a long poll of `sys/events` (event_routes.ts) uses.
 *
 *   append(event) ──▶ ring of the last `retainedMax` events ──▶ read({ after, epoch })
 *        │                   index 1, 2, 3 … since the process started          │
 *        └──────────── wakes every waitAfter(after) ◀── a long poll that got ───┘
 *                                                       no event yet
 *
 * An index names an event of this process only: the journal lives in memory, so it survives
 * seal and unseal but not a restart, and another node's journal counts its own events. The
 * epoch, a random id drawn once per journal, tells a client which count its index belongs to:
 * resuming with another epoch, or from an index that fell out of the ring, is refused with
 * COFFER_CORE_EVENTS_INDEX_EXPIRED, whose action is to read the state again and subscribe anew.
 *
 * Invariant: the events held are exactly the indexes oldestIndex..lastIndex, in order, and an
 * index is never reused within an epoch.
 * Invariant: an event holds ids, a term, a flag and an instant: never secret data or a token
 * (a lease id is not a secret, as in Vault).
 */
import assert from 'node:assert/strict';

import { CoreError, CoreErrorCode } from '../errors.ts';

/** The kinds of cluster events. */
export const ClusterEventType = {
  /** This node saw another leader (or none: leader id 0) at a term. */
  leaderChange: 'leader_change',
  /** This node was sealed. */
  sealed: 'sealed',
  /** This node was unsealed. */
  unsealed: 'unsealed',
  /** The active node saw a member become healthy or unhealthy (autopilot's rule). */
  peerHealth: 'peer_health',
  /** This node revoked a secret's lease. */
  leaseRevoked: 'lease_revoked',
} as const;
/** Union of {@link ClusterEventType} values. */
export type ClusterEventType = (typeof ClusterEventType)[keyof typeof ClusterEventType];

/** What an event says, by type. */
export type ClusterEventBody =
  | {
      readonly type: typeof ClusterEventType.leaderChange;
      /** The leader's node id; 0 when this node knows none. */
      readonly leaderId: number;
      readonly term: number;
    }
  | { readonly type: typeof ClusterEventType.sealed }
  | { readonly type: typeof ClusterEventType.unsealed }
  | {
      readonly type: typeof ClusterEventType.peerHealth;
      readonly peerId: number;
      readonly healthy: boolean;
    }
  | { readonly type: typeof ClusterEventType.leaseRevoked; readonly leaseId: string };

/** One journaled event. */
export type ClusterEvent = ClusterEventBody & {
  /** 1 for the first event of the journal, then one more for each. */
  readonly index: number;
  /** When it was journaled, ms since the epoch (the node's wall clock). */
  readonly timeMs: number;
};

/** The timer the waits use (the Raft driver's clock port). */
export interface JournalClock {
  setTimer(delayMs: number, callback: () => void): { cancel(): void };
}

/** Options of {@link EventJournal}. */
export interface EventJournalOptions {
  /** Events kept for resuming; older ones fall out. Default {@link eventsRetainedMaxDefault}. */
  readonly retainedMax?: number;
  /** The random id of this journal (tests pass a fixed one). */
  readonly epoch: string;
  readonly wallClockMs: () => number;
  readonly clock: JournalClock;
}

/** The default retention: the last 4096 events. */
export const eventsRetainedMaxDefault = 4096;

/** Where a read starts. */
export interface JournalCursor {
  /** The last index the client has; undefined: from now (the current last index). */
  readonly after?: number;
  /** The epoch that index belongs to; undefined: this journal's. */
  readonly epoch?: string;
}

/** The events after a cursor. */
export interface JournalPage {
  readonly epoch: string;
  /** The events after the cursor, in index order, at most `limit`. */
  readonly events: readonly ClusterEvent[];
  /** The index the next read continues after (the last event's, or the cursor's). */
  readonly after: number;
  /** The newest index of the journal (0 before any event). */
  readonly lastIndex: number;
  /** The oldest index still held (lastIndex + 1 when none is). */
  readonly oldestIndex: number;
}

/** A bounded, indexed ring of this node's cluster events. */
export class EventJournal {
  readonly epoch: string;
  readonly #retainedMax: number;
  readonly #wallClockMs: () => number;
  readonly #clock: JournalClock;
  readonly #ring: (ClusterEvent | undefined)[];
  #lastIndex = 0;
  readonly #waiters = new Set<() => void>();

  constructor(options: EventJournalOptions) {
    const retainedMax = options.retainedMax ?? eventsRetainedMaxDefault;
    if (!Number.isSafeInteger(retainedMax) || retainedMax < 1 || retainedMax > 1_000_000) {
      throw new CoreError(
        CoreErrorCode.invalidRequest,
        `Set the events retention to an integer from 1 to 1000000: ${String(retainedMax)} is not one`,
      );
    }
    this.epoch = options.epoch;
    this.#retainedMax = retainedMax;
    this.#wallClockMs = options.wallClockMs;
    this.#clock = options.clock;
    this.#ring = new Array<ClusterEvent | undefined>(retainedMax).fill(undefined);
  }

  /** The newest index (0 before any event). */
  get lastIndex(): number {
    return this.#lastIndex;
  }

  /** The oldest index held; lastIndex + 1 while the journal is empty. */
  get oldestIndex(): number {
    return Math.max(1, this.#lastIndex - this.#retainedMax + 1);
  }

  /** Journals `body` under the next index and wakes every wait. */
  append(body: ClusterEventBody): ClusterEvent {
    const index = this.#lastIndex + 1;
    const event: ClusterEvent = { ...body, index, timeMs: this.#wallClockMs() };
    this.#ring[(index - 1) % this.#retainedMax] = event;
    this.#lastIndex = index;
    this.#wake();
    return event;
  }

  /**
   * The events after `cursor`, at most `limit`. Throws CoreError
   * COFFER_CORE_EVENTS_INDEX_EXPIRED when the cursor names another epoch, an index past this
   * journal's last one (another node or process), or one whose next event fell out of the ring.
   */
  read(cursor: JournalCursor, limit: number): JournalPage {
    assert(Number.isSafeInteger(limit) && limit >= 1);
    const after = this.#checkedAfter(cursor);
    const events: ClusterEvent[] = [];
    const last = Math.min(this.#lastIndex, after + limit);
    for (let index = after + 1; index <= last; index += 1) {
      const event = this.#ring[(index - 1) % this.#retainedMax];
      assert(event?.index === index, `journal slot of index ${index} holds another event`);
      events.push(event);
    }
    return {
      epoch: this.epoch,
      events,
      after: events.at(-1)?.index ?? after,
      lastIndex: this.#lastIndex,
      oldestIndex: this.oldestIndex,
    };
  }

  #checkedAfter(cursor: JournalCursor): number {
    if (cursor.epoch !== undefined && cursor.epoch !== this.epoch) {
      throw indexExpired(
        'the index belongs to another epoch (this node restarted, or the client moved to another node)',
      );
    }
    const after = cursor.after ?? this.#lastIndex;
    if (!Number.isSafeInteger(after) || after < 0) {
      throw new CoreError(
        CoreErrorCode.invalidRequest,
        'Send "after" as an event index: a whole number of 0 or more',
      );
    }
    if (after > this.#lastIndex) {
      throw indexExpired(
        `index ${after} is past this node's last event ${this.#lastIndex} (another node or process)`,
      );
    }
    if (after + 1 < this.oldestIndex) {
      throw indexExpired(
        `the events after index ${after} are no longer held (the oldest held is ${this.oldestIndex})`,
      );
    }
    return after;
  }

  /**
   * Resolves once an event after `after` is held, or after `waitMs` on the clock, or when the
   * journal is woken by {@link wakeAll}; at once when one is held already.
   */
  waitAfter(after: number, waitMs: number): Promise<void> {
    if (this.#lastIndex > after || waitMs <= 0) {
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = (): void => {
        timer.cancel();
        this.#waiters.delete(done);
        resolve();
      };
      const timer = this.#clock.setTimer(waitMs, done);
      this.#waiters.add(done);
    });
  }

  /** Ends every wait now (the node closes). */
  wakeAll(): void {
    this.#wake();
  }

  /** Waits now running (tests). */
  get waitCount(): number {
    return this.#waiters.size;
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) {
      waiter();
    }
  }
}

/** The refusal of a cursor the journal cannot continue from. */
function indexExpired(why: string): CoreError {
  return new CoreError(
    CoreErrorCode.eventsIndexExpired,
    `Read the current state and subscribe again without an index: ${why}`,
  );
}
