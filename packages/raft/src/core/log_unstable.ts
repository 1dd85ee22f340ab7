/**
 * The part of the log not yet persisted: entries appended since the last Ready, and a snapshot
 * received from the leader that the driver has not installed yet.
 *
 * Invariant: entries[i].index === offset + i; when a snapshot is present, offset === its index + 1.
 */
import { assert } from './assert.ts';
import { asIndex, type Entry, type LogIndex, type SnapshotMetadata, type Term } from './types.ts';

/** Entries and a snapshot waiting for the driver to persist them. */
export class UnstableLog {
  snapshot: SnapshotMetadata | undefined = undefined;
  entries: Entry[] = [];
  offset: LogIndex;

  constructor(offset: LogIndex) {
    this.offset = offset;
  }

  /** The first index if a pending snapshot defines it. */
  maybeFirstIndex(): LogIndex | undefined {
    return this.snapshot === undefined ? undefined : asIndex(this.snapshot.index + 1);
  }

  /** The last index if unstable entries or a pending snapshot define it. */
  maybeLastIndex(): LogIndex | undefined {
    if (this.entries.length > 0) {
      return asIndex(this.offset + this.entries.length - 1);
    }
    return this.snapshot?.index;
  }

  /** The term at index if this part of the log knows it. */
  maybeTerm(index: LogIndex): Term | undefined {
    if (index < this.offset) {
      return this.snapshot !== undefined && this.snapshot.index === index
        ? this.snapshot.term
        : undefined;
    }
    return this.entries[index - this.offset]?.term;
  }

  /** Drops entries up to index once they are durable, if the term still matches. */
  stableTo(index: LogIndex, term: Term): void {
    if (index < this.offset || this.maybeTerm(index) !== term) {
      return;
    }
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = asIndex(index + 1);
  }

  /** Forgets the pending snapshot at index once it is installed. */
  stableSnapTo(index: LogIndex): void {
    if (this.snapshot?.index === index) {
      this.snapshot = undefined;
    }
  }

  /** Replaces everything with a snapshot received from the leader. */
  restore(snapshot: SnapshotMetadata): void {
    this.offset = asIndex(snapshot.index + 1);
    this.entries = [];
    this.snapshot = snapshot;
  }

  /** Appends entries, first cutting off any suffix that starts at or after their first index. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) {
      return;
    }
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      this.entries.push(...entries);
    } else if (after <= this.offset) {
      this.offset = after;
      this.entries = [...entries];
    } else {
      this.entries = [...this.entries.slice(0, after - this.offset), ...entries];
    }
  }

  /** Entries in [lo, hi); the caller checked the bounds. */
  slice(lo: LogIndex, hi: LogIndex): Entry[] {
    assert(
      lo >= this.offset && hi <= this.offset + this.entries.length && lo <= hi,
      `unstable slice [${lo}, ${hi}) outside [${this.offset}, ${this.offset + this.entries.length})`,
    );
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
