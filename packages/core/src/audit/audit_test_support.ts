/**
 * Test support (not exported): a seeded random source, audit handles that count, gate or fail
 * their writes, and sample entries. Only *.test.ts files import this.
 */
import { createHash } from 'node:crypto';

import type { AuditEntry } from './audit_entry.ts';
import { openAuditFile, type AuditFileHandle, type OpenAuditFile } from './audit_file_handle.ts';

/** A deterministic integer source from a seed (SHA-256 in counter mode). */
export class SeededRandom {
  readonly #seed: string;
  #counter = 0;

  constructor(seed: string) {
    this.#seed = seed;
  }

  /** An integer in [0, bound). */
  below(bound: number): number {
    const digest = createHash('sha256').update(`${this.#seed}:${this.#counter}`).digest();
    this.#counter += 1;
    return digest.readUInt32BE(0) % bound;
  }
}

/** An OS-style error with a code. */
export function osError(code: string): Error {
  return Object.assign(new Error(`${code}: injected`), { code });
}

/** What a {@link FaultyFiles} factory counts and which faults it injects next. */
export class FaultyFiles {
  writes = 0;
  syncs = 0;
  opens = 0;
  /** Throw this code from every write while set. */
  writeFault: string | undefined;
  /** Throw this code from every datasync while set. */
  syncFault: string | undefined;
  /** Write only this many bytes of the next write, then fail the following call. */
  shortWriteBytes: number | undefined;
  /** While set, writes wait for it to resolve first. */
  gate: Promise<void> | undefined;
  /** While set, datasyncs wait for it to resolve first (then fail if syncFault is set). */
  syncGate: Promise<void> | undefined;

  /** The injectable opener: real files, wrapped. */
  readonly open: OpenAuditFile = async (path) => this.#wrap(await openAuditFile(path));

  #wrap(inner: AuditFileHandle): AuditFileHandle {
    this.opens += 1;
    return {
      write: async (buffer, offset, length) => {
        this.writes += 1;
        await this.gate;
        if (this.writeFault !== undefined) {
          throw osError(this.writeFault);
        }
        if (this.shortWriteBytes !== undefined) {
          const short = Math.min(this.shortWriteBytes, length);
          this.shortWriteBytes = undefined;
          this.writeFault = 'EIO';
          return inner.write(buffer, offset, short);
        }
        return inner.write(buffer, offset, length);
      },
      datasync: async () => {
        this.syncs += 1;
        await this.syncGate;
        if (this.syncFault !== undefined) {
          throw osError(this.syncFault);
        }
        await inner.datasync();
      },
      truncate: (lengthBytes) => inner.truncate(lengthBytes),
      stat: () => inner.stat(),
      read: (...args: Parameters<AuditFileHandle['read']>) => inner.read(...args),
      close: () => inner.close(),
    };
  }
}

/** A request entry for request number index. */
export function sampleEntry(index: number): AuditEntry {
  return {
    type: 'request',
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString(),
    request: { id: `request-${index}`, operation: 'read', path: `secret/data/app/${index}` },
  };
}
