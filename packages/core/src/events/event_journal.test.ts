/**
 * Goal: the event journal keeps the last `retainedMax` events in index order, answers the
 * events after a cursor without loss or reordering across pages, refuses a cursor it cannot
 * continue from (another epoch, an index past its last, one that fell out of the ring) with
 * COFFER_CORE_EVENTS_INDEX_EXPIRED, and wakes a waiting poll on the next event or its timer;
 * the peer health watch journals each flip of a member's health on the active node only, and
 * the lease store view reports each deleted lease record once its write committed.
 * Method: a ManualClock for timers (no sleeps), a fixed wall clock and epoch, a scripted health
 * source, and the in-memory StorageView.
 */
import { describe, expect, it } from 'vitest';

import { ManualClock } from '@coffer/raft/testing';

import { CoreErrorCode } from '../errors.ts';
import { ClusterEventType, EventJournal, type ClusterEvent } from './event_journal.ts';
import { leaseIdsDeletedBy } from './lease_removals.ts';
import { PeerHealthWatch } from './peer_health_watch.ts';

function journalOf(retainedMax: number): { journal: EventJournal; clock: ManualClock } {
  const clock = new ManualClock();
  const journal = new EventJournal({
    epoch: 'epoch-a',
    retainedMax,
    clock,
    wallClockMs: () => 1_700_000_000_000 + clock.nowMs(),
  });
  return { journal, clock };
}

function appendLeases(journal: EventJournal, count: number): void {
  for (let i = 1; i <= count; i += 1) {
    journal.append({ type: ClusterEventType.leaseRevoked, leaseId: `auth/token/create/l${i}` });
  }
}

function expiredCode(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('EventJournal', () => {
  it('EventJournal.append numbers events from 1 and read answers them in order', () => {
    const { journal } = journalOf(8);
    expect(journal.read({}, 10)).toMatchObject({ events: [], after: 0, lastIndex: 0 });
    journal.append({ type: ClusterEventType.leaderChange, leaderId: 2, term: 3 });
    journal.append({ type: ClusterEventType.sealed });
    const page = journal.read({ after: 0 }, 10);
    expect(page.events.map((event) => [event.index, event.type])).toEqual([
      [1, 'leader_change'],
      [2, 'sealed'],
    ]);
    expect(page).toMatchObject({ epoch: 'epoch-a', after: 2, lastIndex: 2, oldestIndex: 1 });
    expect(page.events[0]).toEqual({
      type: 'leader_change',
      leaderId: 2,
      term: 3,
      index: 1,
      timeMs: 1_700_000_000_000,
    });
  });

  it('EventJournal.read without an index starts from now', () => {
    const { journal } = journalOf(8);
    appendLeases(journal, 3);
    expect(journal.read({}, 10)).toMatchObject({ events: [], after: 3 });
  });

  it('EventJournal.read pages through every held event without loss or reordering', () => {
    const { journal } = journalOf(16);
    appendLeases(journal, 40);
    const seen: ClusterEvent[] = [];
    let after = 40 - 16;
    for (;;) {
      const page = journal.read({ after, epoch: 'epoch-a' }, 5);
      if (page.events.length === 0) {
        break;
      }
      seen.push(...page.events);
      after = page.after;
    }
    expect(seen.map((event) => event.index)).toEqual(Array.from({ length: 16 }, (_, i) => 25 + i));
    expect(journal.oldestIndex).toBe(25);
  });

  it('EventJournal.read refuses an index that fell out of the retention window', () => {
    const { journal } = journalOf(4);
    appendLeases(journal, 10);
    expect(journal.read({ after: 6 }, 10).events.map((event) => event.index)).toEqual([
      7, 8, 9, 10,
    ]);
    expect(expiredCode(() => journal.read({ after: 5 }, 10))).toBe(
      CoreErrorCode.eventsIndexExpired,
    );
  });

  it('EventJournal.read refuses another epoch and an index past its last', () => {
    const { journal } = journalOf(4);
    appendLeases(journal, 2);
    expect(expiredCode(() => journal.read({ after: 1, epoch: 'epoch-b' }, 10))).toBe(
      CoreErrorCode.eventsIndexExpired,
    );
    expect(expiredCode(() => journal.read({ after: 3 }, 10))).toBe(
      CoreErrorCode.eventsIndexExpired,
    );
    expect(expiredCode(() => journal.read({ after: -1 }, 10))).toBe(CoreErrorCode.invalidRequest);
    expect(expiredCode(() => journal.read({ after: 1.5 }, 10))).toBe(CoreErrorCode.invalidRequest);
  });

  it('EventJournal refuses a retention outside 1..1000000', () => {
    for (const retainedMax of [0, -1, 1.5, 2_000_000]) {
      expect(expiredCode(() => journalOf(retainedMax))).toBe(CoreErrorCode.invalidRequest);
    }
  });

  it('EventJournal.waitAfter resolves on the next event, on its timer, or at once', async () => {
    const { journal, clock } = journalOf(4);
    let woke = false;
    const waiting = journal.waitAfter(0, 1000).then(() => {
      woke = true;
    });
    clock.advance(999);
    await Promise.resolve();
    expect(woke).toBe(false);
    journal.append({ type: ClusterEventType.unsealed });
    await waiting;
    expect(journal.waitCount).toBe(0);
    const timed = journal.waitAfter(1, 500);
    clock.advance(500);
    await timed;
    await journal.waitAfter(0, 500);
    const ended = journal.waitAfter(1, 500);
    journal.wakeAll();
    await ended;
    expect(journal.waitCount).toBe(0);
  });
});

describe('PeerHealthWatch', () => {
  it('PeerHealthWatch journals health flips on the active node and starts from a baseline', () => {
    const { journal, clock } = journalOf(16);
    const looks: (ReadonlyMap<number, boolean> | undefined)[] = [
      new Map([
        [1, true],
        [2, false],
      ]),
      new Map([
        [1, true],
        [2, true],
      ]),
      new Map([
        [1, true],
        [2, true],
        [3, false],
      ]),
      undefined,
      new Map([
        [1, true],
        [2, false],
      ]),
      new Map([
        [1, false],
        [2, false],
      ]),
    ];
    const watch = new PeerHealthWatch({
      journal,
      clock,
      intervalMs: 100,
      source: () => looks.shift(),
    });
    watch.start();
    clock.advance(600);
    watch.stop();
    clock.advance(1000);
    expect(journal.read({ after: 0 }, 10).events).toEqual([
      expect.objectContaining({ index: 1, type: 'peer_health', peerId: 2, healthy: true }),
      expect.objectContaining({ index: 2, type: 'peer_health', peerId: 3, healthy: false }),
      expect.objectContaining({ index: 3, type: 'peer_health', peerId: 1, healthy: false }),
    ]);
  });

  it('PeerHealthWatch.check counts a failed look as not active', () => {
    const { journal, clock } = journalOf(4);
    const looks: (() => ReadonlyMap<number, boolean>)[] = [
      () => new Map([[2, true]]),
      () => {
        throw new Error('no longer the active node');
      },
      () => new Map([[2, false]]),
    ];
    const watch = new PeerHealthWatch({
      journal,
      clock,
      source: () => (looks.shift() ?? (() => new Map<number, boolean>()))(),
    });
    for (let look = 0; look < 3; look += 1) {
      watch.check();
    }
    expect(journal.lastIndex).toBe(0);
  });
});

describe('leaseIdsDeletedBy', () => {
  it('leaseIdsDeletedBy names each deleted lease record, not indexes, puts or other paths', () => {
    const value = new Uint8Array([1]);
    expect(
      leaseIdsDeletedBy({ kind: 'put', key: 'sys/expire/id/auth/token/create/a', value }),
    ).toEqual([]);
    expect(leaseIdsDeletedBy({ kind: 'delete', key: 'sys/expire/id/secret/b' })).toEqual([
      'secret/b',
    ]);
    expect(
      leaseIdsDeletedBy({
        kind: 'transaction',
        conditions: [],
        operations: [
          { kind: 'delete', key: 'sys/expire/id/auth/token/create/a' },
          { kind: 'delete', key: 'sys/expire/by-expiry/0000000000000001/auth/token/create/a' },
          { kind: 'delete', key: 'sys/expire/irrevocable/secret/c' },
          { kind: 'delete', key: 'logical/u/id/secret/d' },
          { kind: 'delete', key: 'sys/expire/id/secret/b' },
        ],
      }),
    ).toEqual(['auth/token/create/a', 'secret/b']);
  });
});
