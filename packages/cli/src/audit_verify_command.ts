/**
 * `coffer audit verify <file>`: checks an audit file's hash chain offline, without the server or
 * the device salt (docs/design/audit.md). Exit 0 when the chain holds, 1 when it is broken or the
 * file cannot be read.
 *
 * `--previous-hash` pins the first line (the previous file's last hash, or the device genesis);
 * `--next <file>` checks that the next (rotated-to) file's first line follows this file's last,
 * which is how lines cut from the end of a file are found.
 *
 * Failures print as every command's errors do, `Error: <message> (<code>)`: a broken chain with
 * its COFFER_CORE_AUDIT_CHAIN_BROKEN code (the message names the line), a bad option or file
 * with a COFFER_CLI_* code. With `--format json` they print as `{ok: false, code, ...}`.
 */
import type { VerifyAuditFileResult } from '@coffer/api';

import { OutputFormat, type CliIo } from './cli_io.ts';
import { CliErrorCode, errorLine } from './errors.ts';

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
    io.stderr(errorLine(result.message, result.code));
  }
}

/** A failure that is not this file's broken chain (bad option, unreadable file, next file). */
interface Failure {
  readonly code: string;
  readonly message: string;
}

function reportError(io: CliIo, format: OutputFormat, failure: Failure): void {
  if (format === OutputFormat.json) {
    io.stdout(`${JSON.stringify({ ok: false, code: failure.code, error: failure.message })}\n`);
  } else {
    io.stderr(errorLine(failure.message, failure.code));
  }
}

function errorCodeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** The failure of a verify that threw: its own COFFER code, else an unreadable file. */
function thrownFailure(error: unknown): Failure {
  const code = errorCodeOf(error);
  return code.startsWith('COFFER_')
    ? { code, message: error instanceof Error ? error.message : 'Verifying the file failed' }
    : {
        code: CliErrorCode.fileUnreadable,
        message: `Check the audit file path and permissions: reading failed (${code})`,
      };
}

/** The first `prev` of the next file, or a failure to report. */
async function nextFirstPrev(next: string): Promise<{ prev: string } | Failure> {
  const { verifyAuditFile } = await import('@coffer/api');
  const result = await verifyAuditFile(next);
  if (!result.ok) {
    return {
      code: result.code,
      message: `Verify the next file "${next}" first: its line ${result.line} is broken`,
    };
  }
  if (result.lines === 0) {
    return {
      code: CliErrorCode.invalidArgument,
      message: `Name a next file with lines: "${next}" is empty`,
    };
  }
  return { prev: result.firstPrev };
}

/** Runs the command; returns the exit code. */
export async function runAuditVerify(
  file: string,
  options: AuditVerifyOptions,
  io: CliIo,
): Promise<number> {
  const fail = (failure: Failure): number => {
    reportError(io, options.format, failure);
    return 1;
  };
  if (options.previousHash !== undefined && !/^[0-9a-f]{64}$/.test(options.previousHash)) {
    return fail({
      code: CliErrorCode.invalidArgument,
      message: 'Pass --previous-hash as 64 lowercase hex digits',
    });
  }
  try {
    let expectLastHash: string | undefined;
    if (options.next !== undefined) {
      const next = await nextFirstPrev(options.next);
      if ('message' in next) {
        return fail(next);
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
    return fail(thrownFailure(error));
  }
}
