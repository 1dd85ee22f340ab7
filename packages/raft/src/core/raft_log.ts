/**
 * The log as the core sees it: the persisted part (read through {@link LogStorage}) followed by
 * the unstable part, with the commit and apply positions.
 *
 * Invariant: applied <= committed <= lastIndex(), and firstIndex() - 1 <= applied.
 */
import { assert } from './assert.ts';
import type { LogStorage } from './storage.ts';
import { UnstableLog } from './log_unstable.ts';
import { asIndex, type Entry, type LogIndex, type SnapshotMetadata, type Term } from './types.ts';

/** Outcome of offering a leader's entries to the log. */
export type AppendOutcome =
  | { readonly kind: 'appended'; readonly lastNewIndex: LogIndex }
  | { readonly kind: 'mismatch' }
  | { readonly kind: 'conflictsWithCommitted'; readonly index: LogIndex };

/** The replicated log of one node. */
export class RaftLog {
  readonly storage: LogStorage;
  readonly unstable: UnstableLog;
  committed: LogIndex;
  applied: LogIndex;

  constructor(storage: LogStorage) {
    this.storage = storage;
    this.unstable = new UnstableLog(asIndex(storage.lastIndex() + 1));
    this.committed = asIndex(storage.firstIndex() - 1);
    this.applied = asIndex(storage.firstIndex() - 1);
  }

  firstIndex(): LogIndex {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): LogIndex {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /**
   * The last index known to be on disk: before the unstable entries. 0 while a received
   * snapshot is unstable (nothing may be counted until it is installed).
   */
  persistedLastIndex(): LogIndex {
    return this.unstable.snapshot === undefined ? asIndex(this.unstable.offset - 1) : asIndex(0);
  }

  /** The term at index, or undefined when the index is compacted away or beyond the log. */
  term(index: LogIndex): Term | undefined {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) {
      return undefined;
    }
    return this.unstable.maybeTerm(index) ?? this.storage.term(index);
  }

  lastTerm(): Term {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, `no term for last index ${this.lastIndex()}`);
    return term;
  }

  matchTerm(index: LogIndex, term: Term): boolean {
    return this.term(index) === term;
  }

  /** The latest snapshot: the pending one received from a leader, else the stored one. */
  snapshotMetadata(): SnapshotMetadata {
    return this.unstable.snapshot ?? this.storage.snapshotMetadata();
  }

  /**
   * Offers entries that follow (prevIndex, prevTerm) (Raft Figure 2, AppendEntries steps 2–5).
   * Only a real conflict truncates; a stale or repeated message never does.
   */
  maybeAppend(
    prev: { index: LogIndex; term: Term },
    leaderCommit: LogIndex,
    entries: readonly Entry[],
  ): AppendOutcome {
    if (!this.matchTerm(prev.index, prev.term)) {
      return { kind: 'mismatch' };
    }
    const lastNewIndex = asIndex(prev.index + entries.length);
    const conflict = this.findConflict(entries);
    if (conflict !== undefined) {
      if (conflict <= this.committed) {
        return { kind: 'conflictsWithCommitted', index: conflict };
      }
      this.append(entries.slice(conflict - (prev.index + 1)));
    }
    this.commitTo(asIndex(Math.min(leaderCommit, lastNewIndex)));
    return { kind: 'appended', lastNewIndex };
  }

  /** Appends the leader's own entries, or the suffix of a follower's after a conflict. */
  append(entries: readonly Entry[]): LogIndex {
    const first = entries[0];
    if (first !== undefined) {
      assert(
        first.index > this.committed,
        `append at ${first.index} below commit ${this.committed}`,
      );
      this.unstable.truncateAndAppend(entries);
    }
    return this.lastIndex();
  }

  /** The first entry whose index exists here with another term, or that is new. */
  findConflict(entries: readonly Entry[]): LogIndex | undefined {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) {
        return entry.index;
      }
    }
    return undefined;
  }

  /**
   * The largest index <= index whose term is <= term: where a leader can resume probing after a
   * rejection (fast backtracking, as in etcd's findConflictByTerm).
   */
  findConflictByTerm(index: LogIndex, term: Term): LogIndex {
    let i = Math.min(index, this.lastIndex());
    for (; i > 0; i--) {
      const t = this.term(asIndex(i));
      if (t === undefined || t <= term) {
        break;
      }
    }
    return asIndex(i);
  }

  /** Candidate log is at least as up to date as ours (Raft §5.4.1). */
  isUpToDate(lastIndex: LogIndex, term: Term): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Commits up to maxIndex if that entry is of the given term (Raft §5.4.2). */
  maybeCommit(maxIndex: LogIndex, term: Term): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  commitTo(index: LogIndex): void {
    if (index <= this.committed) {
      return;
    }
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  appliedTo(index: LogIndex): void {
    if (index === 0) {
      return;
    }
    assert(
      index <= this.committed && index >= this.applied,
      `applied ${index} outside [${this.applied}, ${this.committed}]`,
    );
    this.applied = index;
  }

  /** Committed entries not yet handed out for applying, up to sizeBytesMax of payload. */
  nextCommittedEntries(sizeBytesMax: number): Entry[] {
    const lo = asIndex(Math.max(this.applied + 1, this.firstIndex()));
    const hi = asIndex(this.committed + 1);
    if (lo >= hi || this.unstable.snapshot !== undefined) {
      return [];
    }
    return this.slice(lo, hi, sizeBytesMax);
  }

  hasNextCommittedEntries(): boolean {
    return (
      this.unstable.snapshot === undefined &&
      this.committed > Math.max(this.applied, this.firstIndex() - 1)
    );
  }

  /** Entries from index on, up to sizeBytesMax; undefined when index is compacted away. */
  entriesFrom(index: LogIndex, sizeBytesMax: number): Entry[] | undefined {
    if (index < this.firstIndex()) {
      return undefined;
    }
    if (index > this.lastIndex()) {
      return [];
    }
    return this.slice(index, asIndex(this.lastIndex() + 1), sizeBytesMax);
  }

  /** Entries in [lo, hi), at least one, stopping before sizeBytesMax of payload. */
  slice(lo: LogIndex, hi: LogIndex, sizeBytesMax: number): Entry[] {
    assert(
      lo >= this.firstIndex() && hi <= this.lastIndex() + 1 && lo < hi,
      `bad slice [${lo}, ${hi})`,
    );
    const out: Entry[] = [];
    const split = this.unstable.offset;
    if (lo < split) {
      out.push(...this.storage.entries(lo, asIndex(Math.min(hi, split)), sizeBytesMax));
    }
    if (hi > split && (out.length === 0 || out[out.length - 1]?.index === split - 1)) {
      out.push(...this.unstable.slice(asIndex(Math.max(lo, split)), hi));
    }
    return limitSize(out, sizeBytesMax);
  }

  stableTo(index: LogIndex, term: Term): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(index: LogIndex): void {
    this.unstable.stableSnapTo(index);
  }

  /** Replaces the log with a snapshot from the leader; everything up to it is committed. */
  restore(snapshot: SnapshotMetadata): void {
    this.committed = snapshot.index;
    this.unstable.restore(snapshot);
  }
}

function limitSize(entries: Entry[], sizeBytesMax: number): Entry[] {
  let sizeBytes = 0;
  for (let i = 0; i < entries.length; i++) {
    sizeBytes += entries[i]?.data.byteLength ?? 0;
    if (i > 0 && sizeBytes > sizeBytesMax) {
      return entries.slice(0, i);
    }
  }
  return entries;
}
