/**
 * Goal: hardenProcess runs each measure in order (guard first), refuses outside dev mode with
 * the right code, turns the same findings into warnings in dev mode, and finishes with
 * `process_hardened` when all is well.
 * Method: injected ports (limits text, a recording prlimit, /proc/swaps text, inspector URL, a
 * recording guard) and a recording log; the test runner's own process is not changed.
 */
import { describe, expect, it } from 'vitest';

import { ApiErrorCode } from '../errors.ts';
import { hardenProcess, type HardeningPorts } from './harden_process.ts';

interface Recorder {
  readonly events: string[];
  info(event: string): void;
  warn(event: string): void;
}

function recorder(): Recorder {
  const events: string[] = [];
  return {
    events,
    info: (event) => events.push(`info:${event}`),
    warn: (event) => events.push(`warn:${event}`),
  };
}

function ports(
  log: Recorder,
  options: { coreSoft?: string; swaps?: string; inspectorUrl?: string } = {},
): HardeningPorts {
  let soft = options.coreSoft ?? '0';
  return {
    coreDumps: {
      pid: 7,
      readLimits: () => `Max core file size        ${soft}  0  bytes`,
      runPrlimit: () => {
        log.events.push('prlimit');
        soft = '0';
      },
    },
    readSwaps: () => `Filename Type Size Used Priority\n${options.swaps ?? ''}`,
    inspectorUrl: () => options.inspectorUrl,
    installSignalGuard: () => {
      log.events.push('guard');
    },
  };
}

const cleanRun = { env: { PATH: '/usr/bin' }, execArgv: ['--import', 'tsx'] };

describe('hardenProcess', () => {
  it('hardenProcess installs the guard, fixes core dumps, warns about swap, then reports', () => {
    const log = recorder();
    const injected = ports(log, { coreSoft: 'unlimited', swaps: '/swapfile file 1 0 -2' });
    hardenProcess({ dev: false, ...cleanRun, log, ports: injected });
    expect(log.events).toEqual([
      'guard',
      'prlimit',
      'info:core_dumps_off',
      'warn:swap_enabled',
      'info:process_hardened',
    ]);
  });

  it('hardenProcess refuses a secret-bearing variable outside dev mode after the guard', () => {
    const log = recorder();
    const env = { ...cleanRun.env, COFFER_UNSEAL_KEY: 'share' };
    expect(() => {
      hardenProcess({ dev: false, env, execArgv: [], log, ports: ports(log) });
    }).toThrow(expect.objectContaining({ code: ApiErrorCode.secretInEnvironment }));
    expect(log.events).toEqual(['guard']);
  });

  it('hardenProcess refuses --inspect in execArgv and an open inspector outside dev mode', () => {
    const log = recorder();
    expect(() => {
      hardenProcess({ dev: false, env: {}, execArgv: ['--inspect'], log, ports: ports(log) });
    }).toThrow(expect.objectContaining({ code: ApiErrorCode.debuggerRefused }));
    const open = ports(log, { inspectorUrl: 'ws://127.0.0.1:9229/abc' });
    expect(() => {
      hardenProcess({ dev: false, env: {}, execArgv: [], log, ports: open });
    }).toThrow(expect.objectContaining({ code: ApiErrorCode.debuggerRefused }));
  });

  it('hardenProcess refuses --inspect-brk in NODE_OPTIONS outside dev mode', () => {
    const log = recorder();
    const env = { NODE_OPTIONS: '--inspect-brk' };
    expect(() => {
      hardenProcess({ dev: false, env, execArgv: [], log, ports: ports(log) });
    }).toThrow(expect.objectContaining({ code: ApiErrorCode.debuggerRefused }));
  });

  it('hardenProcess turns refusals into warnings in dev mode', () => {
    const log = recorder();
    const env = { COFFER_TOKEN: 'dev', NODE_OPTIONS: '--inspect' };
    hardenProcess({ dev: true, env, execArgv: ['--inspect-brk'], log, ports: ports(log) });
    expect(log.events).toEqual([
      'guard',
      'warn:inspector_enabled_in_dev',
      'warn:secret_in_environment_in_dev',
      'info:core_dumps_off',
      'info:process_hardened',
    ]);
  });
});
