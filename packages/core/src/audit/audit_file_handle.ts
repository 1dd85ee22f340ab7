/**
 * The port a file audit device writes through: the few FileHandle methods it uses, so a test can
 * inject a handle that fails with EIO or counts writes. Production uses {@link openAuditFile}.
 */
import { open } from 'node:fs/promises';

/** An open audit file (a subset of node's FileHandle). */
export interface AuditFileHandle {
  /** Appends length bytes of buffer from offset (the file is open for appending). */
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(lengthBytes: number): Promise<void>;
  stat(): Promise<{ readonly size: number }>;
  read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

/** Opens (creating it with mode 0600 when absent) an audit file for appending and reading. */
export type OpenAuditFile = (path: string) => Promise<AuditFileHandle>;

/** Mode of a new audit file: owner read and write only. */
export const auditFileMode = 0o600;

/** Opens path with O_APPEND | O_CREAT | O_RDWR, mode 0600 on create. */
export async function openAuditFile(path: string): Promise<AuditFileHandle> {
  return open(path, 'a+', auditFileMode);
}

/** The OS error code of an audit failure (its own, or its cause's), else 'UNKNOWN'. */
export function auditErrorCode(error: unknown): string {
  for (let current = error, depth = 0; depth < 4; depth += 1) {
    if (typeof current !== 'object' || current === null) {
      break;
    }
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) {
      return code;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return 'UNKNOWN';
}
