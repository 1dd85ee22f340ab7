/**
 * Verifies an audit file's hash chain (audit_chain.ts) without the device salt, streaming the
 * file in chunks: each line must be a JSON object whose `prev` is the hash of the line before
 * it; the file must end with a newline (a last line without one was cut by a crash or an edit).
 * A removed, inserted, edited or reordered line breaks the chain at the next line.
 *
 * NB: a chain alone cannot see lines cut from the end of a file, nor an edit of its last line:
 * pass `expectLastHash` (the next file's first `prev`, or a hash recorded elsewhere) for that, and
 * `previousHash` (the previous file's last hash, or the device genesis) to pin the first line.
 */
import { open } from 'node:fs/promises';

import { CoreErrorCode } from '../errors.ts';
import { chainHash, isChainHash } from './audit_chain.ts';

/** Anchors for a verification. */
export interface VerifyAuditFileOptions {
  /** The `prev` the first line must carry; absent: any well-formed hash is taken. */
  readonly previousHash?: string;
  /** The hash the last line must have (the next file's first `prev`). */
  readonly expectLastHash?: string;
}

/** The outcome of {@link verifyAuditFile}. */
export type VerifyAuditFileResult =
  | {
      readonly ok: true;
      /** Lines verified. */
      readonly lines: number;
      /** The first line's `prev` ('' for an empty file). */
      readonly firstPrev: string;
      /** The last line's hash (previousHash, else '', for an empty file). */
      readonly lastHash: string;
    }
  | {
      readonly ok: false;
      /** The 1-based line where the chain broke (lines + 1 for a missing tail). */
      readonly line: number;
      readonly code: typeof CoreErrorCode.auditChainBroken;
      readonly message: string;
    };

const readChunkBytes = 64 * 1024;
const newline = 0x0a;

/** The `prev` of one line, or a reason it has none. */
function linePrev(bytes: Uint8Array): { prev: string } | { reason: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { reason: 'it is not valid JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { reason: 'it is not a JSON object' };
  }
  const prev = (parsed as Record<string, unknown>)['prev'];
  return isChainHash(prev) ? { prev } : { reason: 'its "prev" is not a 64-digit hex hash' };
}

/** Walks lines, checking each link; holds the state between chunks. */
class ChainWalker {
  lines = 0;
  firstPrev = '';
  lastHash: string;
  readonly #previousHash: string | undefined;

  constructor(previousHash: string | undefined) {
    this.#previousHash = previousHash;
    this.lastHash = previousHash ?? '';
  }

  /** Checks the next line; returns a failure message, or undefined. */
  step(bytes: Uint8Array): string | undefined {
    const lineNumber = this.lines + 1;
    const found = linePrev(bytes);
    if ('reason' in found) {
      return `Restore the audit file from a copy: line ${lineNumber} is corrupt (${found.reason})`;
    }
    const expected = this.lines === 0 ? this.#previousHash : this.lastHash;
    if (expected !== undefined && found.prev !== expected) {
      return (
        `Investigate the audit file: line ${lineNumber} does not follow the line before it ` +
        `(a line was removed, inserted, edited or reordered)`
      );
    }
    if (this.lines === 0) {
      this.firstPrev = found.prev;
    }
    this.lines = lineNumber;
    this.lastHash = chainHash(bytes);
    return undefined;
  }
}

function broken(line: number, message: string): VerifyAuditFileResult {
  return { ok: false, line, code: CoreErrorCode.auditChainBroken, message };
}

/** Feeds every complete line of the file to walker; returns a failure, or the unfinished tail. */
async function walkFile(
  path: string,
  walker: ChainWalker,
): Promise<{ failure: string } | { tail: Buffer }> {
  const handle = await open(path, 'r');
  try {
    let pending = Buffer.alloc(0);
    const chunk = Buffer.alloc(readChunkBytes);
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, readChunkBytes, null);
      if (bytesRead === 0) {
        return { tail: pending };
      }
      pending = Buffer.concat([pending, chunk.subarray(0, bytesRead)]);
      let start = 0;
      for (let end = pending.indexOf(newline); end !== -1; end = pending.indexOf(newline, start)) {
        const failure = walker.step(pending.subarray(start, end));
        if (failure !== undefined) {
          return { failure };
        }
        start = end + 1;
      }
      pending = pending.subarray(start);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Verifies the hash chain of the audit file at path. Resolves with the outcome; rejects only when
 * the file cannot be read (ENOENT, EACCES).
 */
export async function verifyAuditFile(
  path: string,
  options: VerifyAuditFileOptions = {},
): Promise<VerifyAuditFileResult> {
  const walker = new ChainWalker(options.previousHash);
  const walked = await walkFile(path, walker);
  if ('failure' in walked) {
    return broken(walker.lines + 1, walked.failure);
  }
  if (walked.tail.length > 0) {
    return broken(
      walker.lines + 1,
      `Restore the audit file from a copy: its last line ${walker.lines + 1} is truncated ` +
        '(no newline)',
    );
  }
  if (options.expectLastHash !== undefined && walker.lastHash !== options.expectLastHash) {
    return broken(
      walker.lines + 1,
      `Investigate the audit file: its last line ${walker.lines} is not the one the next ` +
        'anchor expects (lines were cut from the end, or the last line was edited)',
    );
  }
  return { ok: true, lines: walker.lines, firstPrev: walker.firstPrev, lastHash: walker.lastHash };
}
