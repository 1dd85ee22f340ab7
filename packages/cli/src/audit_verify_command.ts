/**
 * `coffer audit verify <file>`: checks an audit file's hash chain offline, without the server or
 * the device salt (docs/design/audit.md). Exit 0 when the chain holds, 1 when it is broken or the
 * file cannot be read.
 *
 * `--previous-hash` pins the first line (the previous file's last hash, or the device genesis);
 * `--next <file>` checks that the next (rotated-to) file's first line follows this file's last,
 * which is how lines cut from the end of a file are found.
 */
import type { VerifyAuditFileResult } from '@coffer/api';

import { OutputFormat, type CliIo } from './cli_io.ts';

/** The options of `coffer audit verify`. */
export interface AuditVerifyOptions {
  readonly previousHash?: string;
  readonly next?: string;
  readonly format: OutputFormat;
}

function report(io: CliIo, format: OutputFormat, result: VerifyAuditFileResult): void {
  if (format === OutputFormat.json) {
    io.stdout(`${JSON.stringify(result)}\n`);
  } else if (result.ok) {
    io.stdout(`ok: ${result.lines} lines, last hash ${result.lastHash}\n`);
  } else {
    io.stderr(`${result.code} at line ${result.line}: ${result.message}\n`);
  }
}

/** Reports a failure that is not a broken chain (bad option, unreadable file): no chain code. */
function reportError(io: CliIo, format: OutputFormat, message: string): void {
  if (format === OutputFormat.json) {
    io.stdout(`${JSON.stringify({ ok: false, error: message })}\n`);
  } else {
    io.stderr(`Error: ${message}\n`);
  }
}

function errorCodeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** The first `prev` of the next file, or a failure to report. */
async function nextFirstPrev(next: string): Promise<{ prev: string } | { message: string }> {
  const { verifyAuditFile } = await import('@coffer/api');
  const result = await verifyAuditFile(next);
  if (!result.ok) {
    return { message: `Verify the next file "${next}" first: its line ${result.line} is broken` };
  }
  if (result.lines === 0) {
    return { message: `Name a next file with lines: "${next}" is empty` };
  }
  return { prev: result.firstPrev };
}

/** Runs the command; returns the exit code. */
export async function runAuditVerify(
  file: string,
  options: AuditVerifyOptions,
  io: CliIo,
): Promise<number> {
  const fail = (message: string): number => {
    reportError(io, options.format, message);
    return 1;
  };
  if (options.previousHash !== undefined && !/^[0-9a-f]{64}$/.test(options.previousHash)) {
    return fail('Pass --previous-hash as 64 lowercase hex digits');
  }
  try {
    let expectLastHash: string | undefined;
    if (options.next !== undefined) {
      const next = await nextFirstPrev(options.next);
      if ('message' in next) {
        return fail(next.message);
      }
      expectLastHash = next.prev;
    }
    const { verifyAuditFile } = await import('@coffer/api');
    const result = await verifyAuditFile(file, {
      ...(options.previousHash === undefined ? {} : { previousHash: options.previousHash }),
      ...(expectLastHash === undefined ? {} : { expectLastHash }),
    });
    report(io, options.format, result);
    return result.ok ? 0 : 1;
  } catch (error) {
    return fail(
      `Check the audit file path and permissions: reading failed (${errorCodeOf(error)})`,
    );
  }
}
