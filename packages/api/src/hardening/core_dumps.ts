/**
 * A core dump writes the heap to disk: unsealed keys, tokens and secret values included. The
 * server turns core dumps off for itself at start by setting RLIMIT_CORE to 0 (soft and hard,
 * so nothing in the process can raise it again) and confirms it in /proc/self/limits.
 *
 * NB: Node has no setrlimit binding, so the limit is set from outside with util-linux
 * `prlimit --pid <pid> --core=0:0` (run without a shell; lowering one's own limits needs no
 * privilege). The alternative the issue names, re-executing the server under `prlimit
 * --core=0`, would also work but doubles the start-up cost and complicates signal handling.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';

import { ApiError, ApiErrorCode } from '../errors.ts';

/** The I/O that {@link disableCoreDumps} does, injectable so unit tests change no real limit. */
export interface CoreDumpPorts {
  /** This process's id, whose limit is set. */
  readonly pid: number;
  /** The text of /proc/<pid>/limits (throws when it cannot be read). */
  readLimits(): string;
  /** Sets RLIMIT_CORE of `pid` to 0:0 (throws when that fails). */
  runPrlimit(pid: number): void;
}

/** Where {@link disableCoreDumps} reports; ServerLog from @coffer/core fits. */
export interface CoreDumpLog {
  info(event: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(event: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** The soft and hard core file size limits as /proc prints them ("0", "unlimited", bytes). */
export interface CoreLimit {
  readonly soft: string;
  readonly hard: string;
}

/** How {@link disableCoreDumps} ended. */
export type CoreDumpOutcome = 'already-off' | 'turned-off' | 'left-on-in-dev';

/** Absolute places to look for prlimit first, so a writable directory early on PATH cannot
 * substitute it; PATH is the fallback for systems that keep util-linux elsewhere. */
const prlimitCandidates = ['/usr/bin/prlimit', '/bin/prlimit', '/usr/sbin/prlimit'] as const;
const prlimitTimeoutMs = 5_000;

/** Reads "Max core file size <soft> <hard> bytes" from a /proc/<pid>/limits text. */
export function parseCoreLimit(limitsText: string): CoreLimit | undefined {
  const match = /^Max core file size\s+(\S+)\s+(\S+)/m.exec(limitsText);
  if (match?.[1] === undefined || match[2] === undefined) {
    return undefined;
  }
  return { soft: match[1], hard: match[2] };
}

/** True when neither the soft nor the hard limit allows a core file. */
export function isCoreDumpOff(limit: CoreLimit | undefined): boolean {
  return limit?.soft === '0' && limit.hard === '0';
}

/** The real ports: /proc/<pid>/limits and util-linux prlimit. */
export function systemCoreDumpPorts(pid: number = process.pid): CoreDumpPorts {
  return {
    pid,
    readLimits: () => readFileSync(`/proc/${String(pid)}/limits`, 'utf8'),
    runPrlimit: (target) => {
      execFileSync(prlimitPath(), ['--pid', String(target), '--core=0:0'], {
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: prlimitTimeoutMs,
      });
    },
  };
}

function prlimitPath(): string {
  for (const candidate of prlimitCandidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; try the next place.
    }
  }
  return 'prlimit';
}

/**
 * Turns core dumps off for this process, or confirms they are off. Outside dev mode a failure
 * to do so refuses the start; in dev mode it logs `core_dumps_on` and goes on.
 *
 * @throws ApiError COFFER_API_CORE_DUMPS_ON outside dev mode when the limit is not 0:0 after.
 */
export function disableCoreDumps(options: {
  readonly dev: boolean;
  readonly ports: CoreDumpPorts;
  readonly log: CoreDumpLog;
}): CoreDumpOutcome {
  const { dev, ports, log } = options;
  if (isCoreDumpOff(maybeCoreLimit(ports))) {
    log.info('core_dumps_off', { changed: false });
    return 'already-off';
  }
  let failure: unknown;
  try {
    ports.runPrlimit(ports.pid);
  } catch (error) {
    failure = error;
  }
  const after = maybeCoreLimit(ports);
  if (isCoreDumpOff(after)) {
    log.info('core_dumps_off', { changed: true });
    return 'turned-off';
  }
  const reason = failure === undefined ? describeLimit(after) : describeFailure(failure);
  if (dev) {
    log.warn('core_dumps_on', { reason, advice: 'Install util-linux prlimit or run ulimit -c 0' });
    return 'left-on-in-dev';
  }
  throw new ApiError(
    ApiErrorCode.coreDumpsOn,
    `Cannot start the server with core dumps allowed (${reason}): install util-linux ` +
      '(prlimit), or start the server with a core size limit of 0 (ulimit -c 0, or ' +
      'LimitCORE=0 in its systemd unit)',
    failure === undefined ? {} : { cause: failure },
  );
}

function maybeCoreLimit(ports: CoreDumpPorts): CoreLimit | undefined {
  try {
    return parseCoreLimit(ports.readLimits());
  } catch {
    return undefined;
  }
}

function describeLimit(limit: CoreLimit | undefined): string {
  return limit === undefined
    ? 'the process limits in /proc could not be read'
    : `the limit is still ${limit.soft}:${limit.hard}`;
}

function describeFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return 'prlimit was not found';
  }
  const status = (error as { status?: unknown } | undefined)?.status;
  const detail = code ?? (typeof status === 'number' ? `exit status ${String(status)}` : undefined);
  return `prlimit failed${detail === undefined ? '' : ` (${detail})`}`;
}
