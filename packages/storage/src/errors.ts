/**
 * Error codes and the error class for operating failures in @coffer/storage.
 *
 * Codes are stable strings "COFFER_STORAGE_<WHAT>" (STYLE.md 5.2): callers match on `err.code`,
 * never on the message and never with instanceof across packages (STYLE.md 5.3). Every code
 * here is listed in docs/errors.md; test/src/errors_doc.test.ts fails when one is missing.
 */

/** Every error code that @coffer/storage throws, keyed by a short name. */
export const StorageErrorCode = {
  /** An operation was attempted before the store was opened or after it was closed. */
  notOpen: 'COFFER_STORAGE_NOT_OPEN',
  /** The underlying database failed to read or write; the cause holds the driver error. */
  io: 'COFFER_STORAGE_IO',
  /**
   * A record read back from disk failed validation (truncated, bad checksum or encoding, or a
   * gap in the log); the message names the record. It was not applied: restore the node.
   */
  corruptRecord: 'COFFER_STORAGE_CORRUPT_RECORD',
  /** A write or its fsync failed. The store stopped and refuses everything: restart the node. */
  writeFailed: 'COFFER_STORAGE_WRITE_FAILED',
  /** The disk is full. The store stopped; free space on the data path, then restart the node. */
  diskFull: 'COFFER_STORAGE_DISK_FULL',
  /** Another process (or another store in this one) holds the database lock on this path. */
  locked: 'COFFER_STORAGE_LOCKED',
  /** A write would break the log (gap, term regression, unstaged snapshot); nothing was written. */
  invalidWrite: 'COFFER_STORAGE_INVALID_WRITE',
  /** A snapshot being read was replaced by a newer one meanwhile; read the current one. */
  snapshotReplaced: 'COFFER_STORAGE_SNAPSHOT_REPLACED',
  /**
   * A state command or snapshot to write breaks a limit (key or value size, operation count,
   * section size); nothing was written. The message names the limit.
   */
  invalidArgument: 'COFFER_STORAGE_INVALID_ARGUMENT',
  /** Returned: a committed entry does not decode as a state command; it was applied as a no-op. */
  malformedCommand: 'COFFER_STORAGE_MALFORMED_COMMAND',
  /** Returned: a transaction's check-and-set condition failed; none of its writes were applied. */
  casFailed: 'COFFER_STORAGE_CAS_FAILED',
  /** Returned: a session request names a client whose session expired or never existed; not applied. */
  sessionExpired: 'COFFER_STORAGE_SESSION_EXPIRED',
  /** Returned: a session request reuses a sequence number whose response was acknowledged; not applied. */
  responseDiscarded: 'COFFER_STORAGE_RESPONSE_DISCARDED',
  /** Returned: a client has too many unacknowledged responses; not applied. */
  tooManyOutstanding: 'COFFER_STORAGE_TOO_MANY_OUTSTANDING',
  /** A state snapshot chunk failed its hash or does not parse; the message names the chunk. */
  snapshotCorrupt: 'COFFER_STORAGE_SNAPSHOT_CORRUPT',
  /** A state snapshot stream ended before its end chunk. */
  snapshotTruncated: 'COFFER_STORAGE_SNAPSHOT_TRUNCATED',
  /** A state snapshot's HMAC does not verify: a wrong key, or a forged stream. */
  snapshotAuthFailed: 'COFFER_STORAGE_SNAPSHOT_AUTH_FAILED',
  /** A state directory or snapshot has a format version this build does not know. */
  formatUnsupported: 'COFFER_STORAGE_FORMAT_UNSUPPORTED',
} as const;

/** The union of every @coffer/storage error code string. */
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

/** Options for {@link StorageError}; pass `cause` whenever wrapping another error (STYLE.md 5.4). */
export interface StorageErrorOptions {
  /** The error or value that caused this one. */
  readonly cause?: unknown;
}

/**
 * An operating failure in @coffer/storage: the database could not be opened, read or written, or it returned data that fails validation.
 *
 * NB: bugs fail an assert instead, and outcomes a caller must branch on are returned as a
 * discriminated union, not thrown (STYLE.md 5.1).
 */
export class StorageError extends Error {
  /** The stable code to match on. */
  readonly code: StorageErrorCode;

  /**
   * Creates an error. The message names what failed and what to do, action first, and never
   * contains secret material (STYLE.md 5.6, 5.7).
   */
  constructor(code: StorageErrorCode, message: string, options?: StorageErrorOptions) {
    super(message, options);
    this.name = 'StorageError';
    this.code = code;
  }
}
