/**
 * The file audit device: appends one JSON line per audit entry to a file, each line chained to
 * the one before it (audit_chain.ts).
 *
 * Group commit: log() queues its entry and one drain loop writes every queued line with ONE
 * write (and, with fsync 'batch', one fdatasync); calls that arrive while a batch is in flight
 * form the next batch. Each log() resolves only when its own line is written (and synced).
 * reopen() and close() are queued in the same order as lines, so no line is lost around them.
 *
 * Invariant: the file holds only whole lines that resolved. A failed write (ENOSPC, EIO) or sync
 * rejects every call of its batch and truncates the file back to its size before the batch; if
 * even that fails, the next write starts with a newline so the debris stays a line of its own
 * (verify reports it) and the chain continues from the last line that resolved.
 */
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
      if (!this.#draining) {
        this.#draining = true;
        queueMicrotask(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const head = this.#queue[0];
      if (head === undefined) {
        break;
      }
      if (head.kind === 'line') {
        const end = this.#queue.findIndex((operation) => operation.kind !== 'line');
        const batch = this.#queue.splice(0, end === -1 ? this.#queue.length : end);
        await this.#writeBatch(batch as LineOperation[]);
      } else {
        this.#queue.shift();
        await this.#control(head);
      }
    }
    this.#draining = false;
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
    const parts: Buffer[] = this.#needsNewline ? [newline] : [];
    let prev = this.#lastHash;
    for (const operation of batch) {
      const line = Buffer.from(JSON.stringify({ ...operation.entry, prev }), 'utf8');
      prev = chainHash(line);
      parts.push(line, newline);
    }
    return { bytes: Buffer.concat(parts), lastHash: prev };
  }

  async #writeBatch(batch: readonly LineOperation[]): Promise<void> {
    const handle = this.#handle;
    let sizeBeforeBytes = 0;
    let encoded: { bytes: Buffer; lastHash: string };
    try {
      encoded = this.#encode(batch);
      if (handle === undefined) {
        throw new Error('the file is not open after a failed reopen');
      }
      sizeBeforeBytes = this.#sizeBytes ?? (await handle.stat()).size;
      this.#sizeBytes = sizeBeforeBytes;
      await writeAll(handle, encoded.bytes);
      if (this.fsync === AuditFsync.batch) {
        await handle.datasync();
      }
    } catch (error) {
      await this.#rollBack(handle);
      const wrapped = failure(this.path, 'writing the file', error);
      for (const operation of batch) {
        operation.reject(wrapped);
      }
      return;
    }
    this.#sizeBytes = sizeBeforeBytes + encoded.bytes.length;
    this.#lastHash = encoded.lastHash;
    this.#needsNewline = false;
    for (const operation of batch) {
      operation.resolve();
    }
  }

  /** Cuts a failed batch's bytes off the file; if that fails, fences the debris with a newline. */
  async #rollBack(handle: AuditFileHandle | undefined): Promise<void> {
    if (handle === undefined) {
      return;
    }
    try {
      if (this.#sizeBytes === undefined) {
        throw new Error('size unknown');
      }
      await handle.truncate(this.#sizeBytes);
    } catch {
      this.#sizeBytes = undefined;
      this.#needsNewline = true;
    }
  }
}
