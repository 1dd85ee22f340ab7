/**
 * Goal: disableCoreDumps leaves a 0:0 limit alone, runs prlimit otherwise and confirms the
 * result, refuses outside dev mode when prlimit is missing, fails or leaves the limit on (and
 * only warns in dev mode); parseCoreLimit reads real /proc/<pid>/limits text.
 * Method: injected ports that record prlimit calls and serve limits text; the real
 * /proc/self/limits is only read, never changed (harden_process_child.test.ts changes a child's).
 */
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { ApiErrorCode } from '../errors.ts';
import {
  type CoreDumpPorts,
  disableCoreDumps,
  isCoreDumpOff,
  parseCoreLimit,
} from './core_dumps.ts';

function limitsText(soft: string, hard: string): string {
  return [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max cpu time              unlimited            unlimited            seconds   ',
    `Max core file size        ${soft.padEnd(20)} ${hard.padEnd(20)} bytes     `,
    'Max open files            1048576              1048576              files     ',
  ].join('\n');
}

interface FakePorts extends CoreDumpPorts {
  readonly calls: number[];
}

function fakePorts(options: {
  before: [string, string];
  after?: [string, string];
  prlimitError?: NodeJS.ErrnoException;
}): FakePorts {
  let current = options.before;
  const calls: number[] = [];
  return {
    pid: 4242,
    calls,
    readLimits: () => limitsText(...current),
    runPrlimit: (pid) => {
      calls.push(pid);
      if (options.prlimitError !== undefined) {
        throw options.prlimitError;
      }
      current = options.after ?? ['0', '0'];
    },
  };
}

function recordingLog(): {
  events: string[];
  info: (e: string) => void;
  warn: (e: string) => void;
} {
  const events: string[] = [];
  return {
    events,
    info: (event) => events.push(`info:${event}`),
    warn: (event) => events.push(`warn:${event}`),
  };
}

function enoent(): NodeJS.ErrnoException {
  return Object.assign(new Error('spawnSync prlimit ENOENT'), { code: 'ENOENT' });
}

describe('parseCoreLimit', () => {
  it('parseCoreLimit reads the soft and hard values and this process’s real limits', () => {
    expect(parseCoreLimit(limitsText('unlimited', 'unlimited'))).toEqual({
      soft: 'unlimited',
      hard: 'unlimited',
    });
    expect(parseCoreLimit('no such line')).toBeUndefined();
    expect(parseCoreLimit(readFileSync('/proc/self/limits', 'utf8'))).toBeDefined();
    expect(isCoreDumpOff({ soft: '0', hard: 'unlimited' })).toBe(false);
  });
});

describe('disableCoreDumps', () => {
  it('disableCoreDumps does nothing when the limit is already 0 0', () => {
    const ports = fakePorts({ before: ['0', '0'] });
    const log = recordingLog();
    expect(disableCoreDumps({ dev: false, ports, log })).toBe('already-off');
    expect(ports.calls).toEqual([]);
    expect(log.events).toEqual(['info:core_dumps_off']);
  });

  it('disableCoreDumps runs prlimit on its own pid when only the soft limit is 0', () => {
    const ports = fakePorts({ before: ['0', 'unlimited'] });
    expect(disableCoreDumps({ dev: false, ports, log: recordingLog() })).toBe('turned-off');
    expect(ports.calls).toEqual([4242]);
  });

  it('disableCoreDumps refuses outside dev mode when prlimit is missing', () => {
    const ports = fakePorts({ before: ['unlimited', 'unlimited'], prlimitError: enoent() });
    expect(() => disableCoreDumps({ dev: false, ports, log: recordingLog() })).toThrow(
      expect.objectContaining({
        code: ApiErrorCode.coreDumpsOn,
        message: expect.stringContaining('prlimit was not found') as unknown,
      }),
    );
  });

  it('disableCoreDumps refuses outside dev mode when the limit is still on after prlimit', () => {
    const ports = fakePorts({ before: ['1024', '1024'], after: ['1024', '1024'] });
    expect(() => disableCoreDumps({ dev: false, ports, log: recordingLog() })).toThrow(
      expect.objectContaining({
        code: ApiErrorCode.coreDumpsOn,
        message: expect.stringContaining('the limit is still 1024:1024') as unknown,
      }),
    );
  });

  it('disableCoreDumps refuses outside dev mode when the limits cannot be read', () => {
    const ports: CoreDumpPorts = {
      pid: 1,
      readLimits: () => {
        throw enoent();
      },
      runPrlimit: () => undefined,
    };
    expect(() => disableCoreDumps({ dev: false, ports, log: recordingLog() })).toThrow(
      expect.objectContaining({ code: ApiErrorCode.coreDumpsOn }),
    );
  });

  it('disableCoreDumps only warns in dev mode when prlimit fails', () => {
    const failure = Object.assign(new Error('Command failed'), { status: 1 });
    const ports = fakePorts({ before: ['unlimited', 'unlimited'], prlimitError: failure });
    const log = recordingLog();
    expect(disableCoreDumps({ dev: true, ports, log })).toBe('left-on-in-dev');
    expect(log.events).toEqual(['warn:core_dumps_on']);
  });
});
