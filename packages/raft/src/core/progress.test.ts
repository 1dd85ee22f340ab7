// Goal: the leader's per-follower replication state (etcd tracker/progress.go, design.md):
// the probe, replicate and snapshot states, their transitions, and the inflight window bounded
// by both a message count and a byte size. Method: unit tests on Progress and Inflights built
// directly, checking match/next/state after each call.
import { describe, expect, it } from 'vitest';
import { Inflights } from './inflights.ts';
import { Progress, ProgressState } from './progress.ts';
import { asIndex } from './types.ts';

function newProgress(options: {
  match?: number;
  next: number;
  countMax?: number;
  sizeBytesMax?: number;
}): Progress {
  const progress = new Progress({
    next: asIndex(options.next),
    isLearner: false,
    inflights: new Inflights({
      countMax: options.countMax ?? 256,
      sizeBytesMax: options.sizeBytesMax ?? 1 << 20,
    }),
  });
  progress.match = asIndex(options.match ?? 0);
  return progress;
}

describe('Inflights', () => {
  it('Inflights.full reports full once countMax messages are in flight', () => {
    const inflights = new Inflights({ countMax: 3, sizeBytesMax: 1000 });
    inflights.add(asIndex(1), 1);
    inflights.add(asIndex(2), 1);
    expect(inflights.full()).toBe(false);
    inflights.add(asIndex(3), 1);
    expect(inflights.full()).toBe(true);
    expect(inflights.count()).toBe(3);
  });

  it('Inflights.full reports full once sizeBytesMax bytes are in flight', () => {
    // NB: a message may overshoot the byte limit (at least one entry always goes out), so the
    // window is full at >= the limit, not only above it.
    const inflights = new Inflights({ countMax: 100, sizeBytesMax: 10 });
    inflights.add(asIndex(1), 6);
    expect(inflights.full()).toBe(false);
    inflights.add(asIndex(2), 4);
    expect(inflights.full()).toBe(true);
    expect(inflights.sizeBytes()).toBe(10);
  });

  it('Inflights.full reports full when one message overshoots sizeBytesMax', () => {
    const inflights = new Inflights({ countMax: 100, sizeBytesMax: 10 });
    inflights.add(asIndex(1), 50);
    expect(inflights.full()).toBe(true);
  });

  it('Inflights.freeLE frees every message up to the index and their bytes', () => {
    const inflights = new Inflights({ countMax: 4, sizeBytesMax: 100 });
    inflights.add(asIndex(2), 10);
    inflights.add(asIndex(5), 20);
    inflights.add(asIndex(9), 30);
    inflights.add(asIndex(12), 40);
    expect(inflights.full()).toBe(true);
    inflights.freeLE(asIndex(6));
    expect(inflights.count()).toBe(2);
    expect(inflights.sizeBytes()).toBe(70);
    expect(inflights.full()).toBe(false);
  });

  it('Inflights.freeLE ignores an index below every message in flight', () => {
    const inflights = new Inflights({ countMax: 4, sizeBytesMax: 100 });
    inflights.add(asIndex(5), 10);
    inflights.freeLE(asIndex(4));
    expect(inflights.count()).toBe(1);
    expect(inflights.sizeBytes()).toBe(10);
  });

  it('Inflights.freeLE empties the window for an index past the last message', () => {
    const inflights = new Inflights({ countMax: 2, sizeBytesMax: 100 });
    inflights.add(asIndex(5), 10);
    inflights.add(asIndex(6), 10);
    inflights.freeLE(asIndex(100));
    expect(inflights.count()).toBe(0);
    expect(inflights.sizeBytes()).toBe(0);
  });

  it('Inflights.reset drops all messages and bytes', () => {
    const inflights = new Inflights({ countMax: 2, sizeBytesMax: 100 });
    inflights.add(asIndex(5), 60);
    inflights.add(asIndex(6), 60);
    inflights.reset();
    expect(inflights.count()).toBe(0);
    expect(inflights.sizeBytes()).toBe(0);
    expect(inflights.full()).toBe(false);
  });
});

describe('Progress', () => {
  it('Progress starts in probe state and is not paused', () => {
    const progress = newProgress({ next: 5 });
    expect(progress.state).toBe(ProgressState.probe);
    expect(progress.isPaused()).toBe(false);
  });

  it('Progress.sentEntries in probe state pauses until the next heartbeat', () => {
    const progress = newProgress({ next: 5 });
    progress.sentEntries(asIndex(7), 3, 30);
    expect(progress.isPaused()).toBe(true);
    expect(progress.next).toBe(5);
    expect(progress.inflights.count()).toBe(0);
  });

  it('Progress.sentEntries in replicate state moves next and fills the window', () => {
    const progress = newProgress({ match: 4, next: 5, countMax: 2 });
    progress.becomeReplicate();
    progress.sentEntries(asIndex(7), 3, 30);
    expect(progress.next).toBe(8);
    expect(progress.isPaused()).toBe(false);
    progress.sentEntries(asIndex(9), 2, 20);
    expect(progress.next).toBe(10);
    expect(progress.isPaused()).toBe(true);
  });

  it('Progress.sentEntries of an empty append takes no inflight slot in replicate state', () => {
    // An append that only carries the commit index must not fill the window, or a window of
    // one would stall after every commit.
    const progress = newProgress({ match: 4, next: 5, countMax: 1 });
    progress.becomeReplicate();
    progress.sentEntries(asIndex(4), 0, 0);
    expect(progress.inflights.count()).toBe(0);
    expect(progress.isPaused()).toBe(false);
  });

  it('Progress.isPaused in replicate state follows the byte limit too', () => {
    const progress = newProgress({ match: 0, next: 1, countMax: 100, sizeBytesMax: 10 });
    progress.becomeReplicate();
    progress.sentEntries(asIndex(1), 1, 10);
    expect(progress.isPaused()).toBe(true);
    progress.inflights.freeLE(asIndex(1));
    expect(progress.isPaused()).toBe(false);
  });

  it('Progress.isPaused is always true in snapshot state', () => {
    const progress = newProgress({ next: 5 });
    progress.becomeSnapshot(asIndex(20));
    expect(progress.isPaused()).toBe(true);
    expect(progress.pendingSnapshot).toBe(20);
  });

  it('Progress.maybeUpdate moves match and next forward and unpauses a probe', () => {
    const progress = newProgress({ match: 3, next: 4 });
    progress.sentEntries(asIndex(6), 3, 0);
    expect(progress.maybeUpdate(asIndex(6))).toBe(true);
    expect(progress.match).toBe(6);
    expect(progress.next).toBe(7);
    expect(progress.isPaused()).toBe(false);
  });

  it('Progress.maybeUpdate refuses a stale acknowledgement', () => {
    const progress = newProgress({ match: 6, next: 7 });
    expect(progress.maybeUpdate(asIndex(5))).toBe(false);
    expect(progress.match).toBe(6);
    expect(progress.next).toBe(7);
  });

  it('Progress.maybeUpdate never moves next backwards in replicate state', () => {
    const progress = newProgress({ match: 3, next: 4 });
    progress.becomeReplicate();
    progress.sentEntries(asIndex(10), 7, 0);
    progress.maybeUpdate(asIndex(5));
    expect(progress.match).toBe(5);
    expect(progress.next).toBe(11);
  });

  it('Progress.maybeDecrTo in replicate state falls back to match + 1', () => {
    const progress = newProgress({ match: 5, next: 6 });
    progress.becomeReplicate();
    progress.sentEntries(asIndex(10), 5, 0);
    expect(progress.maybeDecrTo(asIndex(8), asIndex(8))).toBe(true);
    expect(progress.next).toBe(6);
  });

  it('Progress.maybeDecrTo in replicate state ignores a rejection at or below match', () => {
    const progress = newProgress({ match: 5, next: 6 });
    progress.becomeReplicate();
    expect(progress.maybeDecrTo(asIndex(5), asIndex(2))).toBe(false);
    expect(progress.next).toBe(6);
  });

  it('Progress.maybeDecrTo in probe state ignores a rejection of an append it did not just send', () => {
    // Reference: Raft §5.3 — a reordered rejection must not rewind next a second time.
    const progress = newProgress({ match: 0, next: 10 });
    expect(progress.maybeDecrTo(asIndex(5), asIndex(3))).toBe(false);
    expect(progress.next).toBe(10);
  });

  it('Progress.maybeDecrTo in probe state jumps to the hint and unpauses', () => {
    // Reference: Raft §5.3 — the follower's hint lets the leader skip entries in one step.
    const progress = newProgress({ match: 0, next: 10 });
    progress.sentEntries(asIndex(9), 0, 0);
    expect(progress.isPaused()).toBe(true);
    expect(progress.maybeDecrTo(asIndex(9), asIndex(4))).toBe(true);
    expect(progress.next).toBe(5);
    expect(progress.isPaused()).toBe(false);
  });

  it('Progress.maybeDecrTo in probe state never goes below match + 1 or above the rejected index', () => {
    const belowMatch = newProgress({ match: 6, next: 10 });
    expect(belowMatch.maybeDecrTo(asIndex(9), asIndex(2))).toBe(true);
    expect(belowMatch.next).toBe(7);
    const aboveRejected = newProgress({ match: 0, next: 10 });
    expect(aboveRejected.maybeDecrTo(asIndex(9), asIndex(50))).toBe(true);
    expect(aboveRejected.next).toBe(9);
    const atZero = newProgress({ match: 0, next: 1 });
    expect(atZero.maybeDecrTo(asIndex(0), asIndex(0))).toBe(true);
    expect(atZero.next).toBe(1);
  });

  it('Progress.becomeReplicate resets next to match + 1 and clears the window', () => {
    const progress = newProgress({ match: 5, next: 9 });
    progress.becomeReplicate();
    progress.sentEntries(asIndex(12), 3, 0);
    progress.becomeReplicate();
    expect(progress.state).toBe(ProgressState.replicate);
    expect(progress.next).toBe(6);
    expect(progress.inflights.count()).toBe(0);
  });

  it('Progress.becomeProbe from replicate resets next to match + 1 and clears the window', () => {
    const progress = newProgress({ match: 5, next: 6 });
    progress.becomeReplicate();
    progress.sentEntries(asIndex(12), 7, 70);
    progress.becomeProbe();
    expect(progress.state).toBe(ProgressState.probe);
    expect(progress.next).toBe(6);
    expect(progress.inflights.count()).toBe(0);
    expect(progress.inflights.sizeBytes()).toBe(0);
  });

  it('Progress.becomeProbe from snapshot resumes after the snapshot it sent', () => {
    // etcd progress.go: after a snapshot the follower is known to hold at least its index.
    const progress = newProgress({ match: 3, next: 4 });
    progress.becomeSnapshot(asIndex(20));
    progress.becomeProbe();
    expect(progress.state).toBe(ProgressState.probe);
    expect(progress.next).toBe(21);
    expect(progress.pendingSnapshot).toBe(0);
  });

  it('Progress.becomeProbe from snapshot keeps match + 1 when match passed the snapshot', () => {
    const progress = newProgress({ match: 3, next: 4 });
    progress.becomeSnapshot(asIndex(20));
    progress.match = asIndex(25);
    progress.becomeProbe();
    expect(progress.next).toBe(26);
  });

  it('Progress.becomeSnapshot resets the chunk offset of an earlier transfer', () => {
    const progress = newProgress({ match: 3, next: 4 });
    progress.becomeSnapshot(asIndex(20));
    progress.snapshotOffsetBytes = 64;
    progress.snapshotChunkInFlight = true;
    progress.becomeSnapshot(asIndex(30));
    expect(progress.pendingSnapshot).toBe(30);
    expect(progress.snapshotOffsetBytes).toBe(0);
    expect(progress.snapshotChunkInFlight).toBe(false);
  });
});
