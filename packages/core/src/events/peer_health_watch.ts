/**
 * The source of `peer_health` events: every `intervalMs` on the node's clock, the members'
 * health as autopilot computes it (autopilot_state.ts) is compared with the last look, and each
 * member whose health flipped is journaled. Only the active node knows its peers' health; while
 * this node is not active the source answers undefined and the watch forgets what it saw, so a
 * node that becomes active starts from what it sees then (a baseline, journaled as nothing).
 */
import { ClusterEventType, type EventJournal, type JournalClock } from './event_journal.ts';

/** Each member's health by node id, or undefined while this node is not the active node. */
export type PeerHealthSource = () => ReadonlyMap<number, boolean> | undefined;

/** The default interval of the watch. */
export const peerHealthIntervalMsDefault = 1000;

/** Watches peer health and journals its changes. */
export class PeerHealthWatch {
  readonly #journal: EventJournal;
  readonly #clock: JournalClock;
  readonly #intervalMs: number;
  readonly #source: PeerHealthSource;
  #seen: ReadonlyMap<number, boolean> | undefined;
  #timer: { cancel(): void } | undefined;

  constructor(options: {
    readonly journal: EventJournal;
    readonly clock: JournalClock;
    readonly source: PeerHealthSource;
    readonly intervalMs?: number;
  }) {
    this.#journal = options.journal;
    this.#clock = options.clock;
    this.#source = options.source;
    this.#intervalMs = options.intervalMs ?? peerHealthIntervalMsDefault;
  }

  /** Looks every interval until {@link stop}. */
  start(): void {
    if (this.#timer !== undefined) {
      return;
    }
    const tick = (): void => {
      this.check();
      this.#timer = this.#clock.setTimer(this.#intervalMs, tick);
    };
    this.#timer = this.#clock.setTimer(this.#intervalMs, tick);
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** One look: journals each member whose health differs from the last look. */
  check(): void {
    let now: ReadonlyMap<number, boolean> | undefined;
    try {
      now = this.#source();
    } catch {
      // NB: the node stopped leading between the role check and the read: it knows nothing.
      now = undefined;
    }
    const before = this.#seen;
    this.#seen = now;
    if (now === undefined || before === undefined) {
      return;
    }
    for (const [peerId, healthy] of [...now].sort(([a], [b]) => a - b)) {
      const was = before.get(peerId);
      if (was !== healthy) {
        this.#journal.append({ type: ClusterEventType.peerHealth, peerId, healthy });
      }
    }
  }
}
