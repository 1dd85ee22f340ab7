/**
 * The cluster events of one node, assembled: its journal (event_journal.ts), the journal's
 * sources (what CofferNode tells it: leader changes, seal and unseal; the peer health watch;
 * lease removals through the lease store's view) and the port `sys/events` reads it through.
 * CofferNode holds one for its whole process, across seal and unseal.
 */
import { randomUUID } from 'node:crypto';

import { ClusterEventType, EventJournal, type JournalClock } from './event_journal.ts';
import type { EventsPort } from './event_routes.ts';
import { PeerHealthWatch, type PeerHealthSource } from './peer_health_watch.ts';

/** The `events` settings of a node (server config `events.`). */
export interface NodeEventsSettings {
  /** Events kept for resuming (default 4096). */
  readonly retainedMax?: number;
  /** The longest wait of one `sys/events` poll (default 30 s). */
  readonly waitMsMax?: number;
  /** How often the active node looks at peer health (default 1 s). */
  readonly healthIntervalMs?: number;
  /** The journal's epoch; default a random UUID (tests pass a fixed one). */
  readonly epoch?: string;
}

/** One node's events. */
export class NodeEvents {
  readonly journal: EventJournal;
  /** What `sys/events` reads. */
  readonly port: EventsPort;
  readonly #health: PeerHealthWatch;
  #leaderSeen: number | undefined;

  constructor(
    settings: NodeEventsSettings,
    parts: {
      readonly clock: JournalClock;
      readonly wallClockMs: () => number;
      readonly peerHealth: PeerHealthSource;
    },
  ) {
    this.journal = new EventJournal({
      epoch: settings.epoch ?? randomUUID(),
      clock: parts.clock,
      wallClockMs: parts.wallClockMs,
      ...(settings.retainedMax === undefined ? {} : { retainedMax: settings.retainedMax }),
    });
    this.port = {
      journal: this.journal,
      ...(settings.waitMsMax === undefined ? {} : { waitMsMax: settings.waitMsMax }),
    };
    this.#health = new PeerHealthWatch({
      journal: this.journal,
      clock: parts.clock,
      source: parts.peerHealth,
      ...(settings.healthIntervalMs === undefined ? {} : { intervalMs: settings.healthIntervalMs }),
    });
    this.#health.start();
  }

  /** Raft told this node of a leader (0: none) at `term`; journaled when the leader differs. */
  leaderChanged(change: { readonly leaderId: number; readonly term: number }): void {
    if (change.leaderId === this.#leaderSeen) {
      return;
    }
    this.#leaderSeen = change.leaderId;
    this.journal.append({
      type: ClusterEventType.leaderChange,
      leaderId: change.leaderId,
      term: change.term,
    });
  }

  sealed(): void {
    this.#leaderSeen = undefined;
    this.journal.append({ type: ClusterEventType.sealed });
  }

  unsealed(): void {
    this.journal.append({ type: ClusterEventType.unsealed });
  }

  /** A lease record was deleted from the lease store (lease_removals.ts). */
  leaseRevoked(leaseId: string): void {
    this.journal.append({ type: ClusterEventType.leaseRevoked, leaseId });
  }

  /** Stops the health watch and ends every wait (the node closes). */
  close(): void {
    this.#health.stop();
    this.journal.wakeAll();
  }
}
