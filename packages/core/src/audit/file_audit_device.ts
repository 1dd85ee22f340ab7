/**
 * The file audit device: appends one JSON line per audit entry to a file, each line chained to
 * the one before it (audit_chain.ts).
 *
 * Group commit: log() queues its entry and one drain loop writes every queued line with ONE
 * write (and, with fsync 'batch', one fdatasync); calls that arrive while a batch is in flight
 * form the next batch. Each log() resolves only when its own line is written (and synced).
 * reopen() and close() are queued in the same order as lines, so no line is lost around them.
 *
 * Pipeline (fsync 'batch'): once a batch is written its fdatasync starts, and the loop writes
 * the next batch while that sync runs, so at most one batch waits on its sync while the next
 * one is written (two syncs may overlap). A batch resolves when its own sync succeeds: that
 * sync started after its bytes were written, so it covers them.
 *
 * Invariant: the file holds only whole lines that resolved. A failed write (ENOSPC, EIO) or sync
 * rejects every call of its batch and truncates the file back to its size before the batch; the
 * batch written after it (its bytes follow) is cut and rejected with it. If even the truncate
 * fails, the next write starts with a newline so the debris stays a line of its own (verify
 * reports it) and the chain continues from the last line that resolved.
 */
import assert from 'node:assert/strict';

import { CoreError, CoreErrorCode } from '../errors.ts';
import { chainHash } from './audit_chain.ts';
import type { AuditEntry } from './audit_entry.ts';
import {
  auditErrorCode,
  openAuditFile,
  type AuditFileHandle,
  type OpenAuditFile,
} from './audit_file_handle.ts';

/** When the device syncs: never itself (the OS decides), or after every batch (the default). */
export const AuditFsync = { none: 'none', batch: 'batch' } as const;
/** Union of {@link AuditFsync} values. */
export type AuditFsync = (typeof AuditFsync)[keyof typeof AuditFsync];

/** How to open a file device. */
export interface FileAuditDeviceOptions {
  readonly path: string;
  /** The `prev` of the chain's first line when the file is empty (the device genesis). */
  readonly genesisHash: string;
  readonly fsync?: AuditFsync;
  /** Opens the file; tests inject failing or counting handles. */
  readonly openFile?: OpenAuditFile;
}

type Operation =
  | {
      readonly kind: 'line';
      readonly entry: AuditEntry;
      readonly resolve: () => void;
      readonly reject: (error: unknown) => void;
    }
  | {
      readonly kind: 'reopen' | 'close';
      readonly resolve: () => void;
      readonly reject: (error: unknown) => void;
    };
type LineOperation = Extract<Operation, { kind: 'line' }>;

/** Where the file stood before a batch was written: what a failure of the batch restores. */
interface FileState {
  readonly sizeBytes: number;
  readonly lastHash: string;
  readonly needsNewline: boolean;
}

/** A written batch whose sync runs; `synced` never rejects (it settles with the error). */
interface SyncingBatch {
  readonly batch: readonly LineOperation[];
  readonly before: FileState;
  readonly synced: Promise<{ readonly error: unknown } | undefined>;
}

const newline = Buffer.from('\n');
const tailWindowBytes = 64 * 1024;

/** Where a file's chain stands: the hash of its last line (if any) and whether it ends cleanly. */
interface FileTail {
  readonly sizeBytes: number;
  readonly lastHash: string | undefined;
  readonly endsWithNewline: boolean;
}

/** Reads the last line of an open file (growing the window until it holds a whole line). */
async function readTail(handle: AuditFileHandle): Promise<FileTail> {
  const { size } = await handle.stat();
  if (size === 0) {
    return { sizeBytes: 0, lastHash: undefined, endsWithNewline: true };
  }
  for (let window = tailWindowBytes; ; window *= 2) {
    const length = Math.min(window, size);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, size - length);
    const bytes = buffer.subarray(0, bytesRead);
    const endsWithNewline = bytes.at(-1) === newline[0];
    const body = endsWithNewline ? bytes.subarray(0, -1) : bytes;
    const start = body.lastIndexOf(newline[0] ?? 0x0a);
    if (start !== -1 || length === size) {
      const line = body.subarray(start + 1);
      return { sizeBytes: size, lastHash: chainHash(line), endsWithNewline };
    }
  }
}

function failure(path: string, action: string, cause: unknown): CoreError {
  return new CoreError(
    CoreErrorCode.auditUnavailable,
    `Check the audit file "${path}": ${action} failed (${auditErrorCode(cause)})`,
    { cause },
  );
}

/**
 * The text of entry's line with the chain's `prev` as its last member: the same characters as
 * `JSON.stringify({ ...entry, prev })`, without copying the entry.
 */
export function auditLineText(entry: AuditEntry, prev: string): string {
  const json = JSON.stringify(entry);
  assert(json.endsWith('}') && json.length > 2 && !('prev' in entry), 'audit entry shape');
  return `${json.slice(0, -1)},"prev":${JSON.stringify(prev)}}`;
}

/** Appends every byte of data, looping over short writes. */
async function writeAll(handle: AuditFileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

/** An append-only, hash-chained audit file. */
export class FileAuditDevice {
  readonly path: string;
  readonly fsync: AuditFsync;
  readonly #openFile: OpenAuditFile;
  #handle: AuditFileHandle | undefined;
  #sizeBytes: number | undefined = 0;
  #lastHash: string;
  #needsNewline = false;
  #closed = false;
  #draining = false;
  #queue: Operation[] = [];
  /** The last batch written whose sync has not been settled yet (fsync 'batch' only). */
  #syncing: SyncingBatch | undefined;
  /** Set while the drain loop waits on a sync with nothing queued: a new call wakes it. */
  #wake: (() => void) | undefined;

  private constructor(options: FileAuditDeviceOptions) {
    this.path = options.path;
    this.fsync = options.fsync ?? AuditFsync.batch;
    this.#openFile = options.openFile ?? openAuditFile;
    this.#lastHash = options.genesisHash;
  }

  /**
   * Opens (or creates, mode 0600) the file at options.path. The chain continues from the file's
   * last line, or starts at options.genesisHash when the file is empty.
   */
  static async open(options: FileAuditDeviceOptions): Promise<FileAuditDevice> {
    const device = new FileAuditDevice(options);
    await device.#openPath();
    return device;
  }

  /** The hash of the last line written (the genesis before any). */
  get lastHash(): string {
    return this.#lastHash;
  }

  /** Appends entry as one chained line; resolves when it is written (and synced). */
  log(entry: AuditEntry): Promise<void> {
    return this.#enqueue((resolve, reject) => ({ kind: 'line', entry, resolve, reject }));
  }

  /**
   * Closes and reopens the file at the device's path, after every line queued before it (the
   * server calls it on SIGHUP, once logrotate moved the file away). The chain continues.
   */
  reopen(): Promise<void> {
    return this.#enqueue((resolve, reject) => ({ kind: 'reopen', resolve, reject }));
  }

  /** Writes every queued line, then closes the file; later calls reject. */
  close(): Promise<void> {
    return this.#enqueue((resolve, reject) => ({ kind: 'close', resolve, reject }));
  }

  #enqueue(
    make: (resolve: () => void, reject: (error: unknown) => void) => Operation,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.#closed) {
        reject(
          new CoreError(
            CoreErrorCode.auditUnavailable,
            `Enable the audit device again: its file "${this.path}" is closed`,
          ),
        );
        return;
      }
      const operation = make(resolve, reject);
      if (operation.kind === 'close') {
        this.#closed = true;
      }
      this.#queue.push(operation);
      this.#wake?.();
      if (!this.#draining) {
        this.#draining = true;
        queueMicrotask(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    for (;;) {
      const head = this.#queue[0];
      if (head === undefined) {
        if (this.#syncing === undefined) {
          break;
        }
        await this.#awaitSyncOrLine(this.#syncing);
      } else if (head.kind === 'line') {
        const end = this.#queue.findIndex((operation) => operation.kind !== 'line');
        const batch = this.#queue.splice(0, end === -1 ? this.#queue.length : end);
        await this.#writeBatch(batch as LineOperation[]);
      } else {
        await this.#settleSyncing(undefined);
        this.#queue.shift();
        await this.#control(head);
      }
    }
    this.#draining = false;
  }

  /**
   * With nothing queued, waits for the sync in flight and settles it, unless a line arrives
   * first: then returns, so the loop writes that line while the sync runs.
   */
  async #awaitSyncOrLine(syncing: SyncingBatch): Promise<void> {
    const arrived = new Promise<'line'>((resolve) => {
      this.#wake = () => {
        resolve('line');
      };
    });
    const first = await Promise.race([syncing.synced.then(() => 'synced' as const), arrived]);
    this.#wake = undefined;
    if (first === 'synced') {
      await this.#settleSyncing(undefined);
    }
  }

  async #control(operation: Exclude<Operation, LineOperation>): Promise<void> {
    try {
      await this.#closeHandle();
      if (operation.kind === 'reopen') {
        await this.#openPath();
      }
      operation.resolve();
    } catch (error) {
      operation.reject(failure(this.path, `${operation.kind} of the file`, error));
    }
  }

  async #closeHandle(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  async #openPath(): Promise<void> {
    let handle: AuditFileHandle;
    try {
      handle = await this.#openFile(this.path);
    } catch (error) {
      throw failure(this.path, 'opening the file', error);
    }
    try {
      const tail = await readTail(handle);
      this.#sizeBytes = tail.sizeBytes;
      this.#lastHash = tail.lastHash ?? this.#lastHash;
      this.#needsNewline = !tail.endsWithNewline;
      this.#handle = handle;
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw failure(this.path, 'reading the end of the file', error);
    }
  }

  /** The bytes of batch (chained from the last line) and the hash of its last line. */
  #encode(batch: readonly LineOperation[]): { bytes: Buffer; lastHash: string } {
    let text = this.#needsNewline ? '\n' : '';
    let prev = this.#lastHash;
    for (const operation of batch) {
      const line = auditLineText(operation.entry, prev);
      prev = chainHash(line);
      text += `${line}\n`;
    }
    // NB: one UTF-8 encoding for the whole batch; JSON.stringify never emits a lone surrogate,
    // so these bytes are the ones chainHash hashed line by line.
    return { bytes: Buffer.from(text, 'utf8'), lastHash: prev };
  }

  /**
   * Writes batch; with fsync 'batch' starts its sync and then settles the batch before it,
   * whose sync ran meanwhile. Runs only in the drain loop, so writes and roll-backs never
   * overlap.
   */
  async #writeBatch(batch: readonly LineOperation[]): Promise<void> {
    const handle = this.#handle;
    let before: FileState | undefined;
    let encoded: { bytes: Buffer; lastHash: string };
    try {
      if (handle === undefined) {
        throw new Error('the file is not open after a failed reopen');
      }
      const sizeBytes = this.#sizeBytes ?? (await handle.stat()).size;
      before = { sizeBytes, lastHash: this.#lastHash, needsNewline: this.#needsNewline };
      this.#sizeBytes = sizeBytes;
      encoded = this.#encode(batch);
      await writeAll(handle, encoded.bytes);
    } catch (error) {
      // The batch before this one was written first: settle it, then cut this one's bytes.
      if (await this.#settleSyncing(batch)) {
        await this.#rollBack(handle, before);
        rejectAll(batch, failure(this.path, 'writing the file', error));
      }
      return;
    }
    this.#sizeBytes = before.sizeBytes + encoded.bytes.length;
    this.#lastHash = encoded.lastHash;
    this.#needsNewline = false;
    if (this.fsync !== AuditFsync.batch) {
      resolveAll(batch);
      return;
    }
    const synced = handle.datasync().then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    // NB: when the batch before fails, its roll-back cuts this batch too and rejects it; this
    // batch's sync then settles unobserved (`synced` never rejects).
    if (await this.#settleSyncing(batch)) {
      this.#syncing = { batch, before, synced };
    }
  }

  /**
   * Waits for the sync of the batch in flight, if any, and resolves its calls. When that sync
   * failed, truncates the file back to before that batch, rejects its calls and those of
   * `following` (written after it, so cut with it), and returns false.
   */
  async #settleSyncing(following: readonly LineOperation[] | undefined): Promise<boolean> {
    const syncing = this.#syncing;
    if (syncing === undefined) {
      return true;
    }
    this.#syncing = undefined;
    const outcome = await syncing.synced;
    if (outcome === undefined) {
      resolveAll(syncing.batch);
      return true;
    }
    await this.#rollBack(this.#handle, syncing.before);
    const wrapped = failure(this.path, 'writing the file', outcome.error);
    rejectAll(syncing.batch, wrapped);
    rejectAll(following ?? [], wrapped);
    return false;
  }

  /**
   * Cuts every byte written since `before` off the file and restores the chain to it; if that
   * fails (or the size is unknown), fences the debris with a newline.
   */
  async #rollBack(
    handle: AuditFileHandle | undefined,
    before: FileState | undefined,
  ): Promise<void> {
    if (handle === undefined) {
      return;
    }
    try {
      if (before === undefined) {
        throw new Error('size unknown');
      }
      this.#lastHash = before.lastHash;
      await handle.truncate(before.sizeBytes);
      this.#sizeBytes = before.sizeBytes;
      this.#needsNewline = before.needsNewline;
    } catch {
      this.#sizeBytes = undefined;
      this.#needsNewline = true;
    }
  }
}

function resolveAll(batch: readonly LineOperation[]): void {
  for (const operation of batch) {
    operation.resolve();
  }
}

function rejectAll(batch: readonly LineOperation[], error: unknown): void {
  for (const operation of batch) {
    operation.reject(error);
  }
}
