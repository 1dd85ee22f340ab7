/**
 * Goal: every way to ask Node for the inspector is found in execArgv and NODE_OPTIONS (with
 * values, underscores and quotes), nothing else is, and refuseDebugger names what it found.
 * Method: table-driven calls with literal option lists; no process is started.
 */
import { describe, expect, it } from 'vitest';

import { ApiErrorCode } from '../errors.ts';
import {
  findDebuggerOptions,
  isDebuggerOption,
  refuseDebugger,
  splitNodeOptions,
} from './debugger_flags.ts';

describe('isDebuggerOption', () => {
  it.each([
    '--inspect',
    '--inspect=127.0.0.1:9229',
    '--inspect-brk',
    '--inspect-brk=0',
    '--inspect-port=9230',
    '--inspect-wait',
    '--inspect-brk-node',
    '--inspect-publish-uid=stderr',
    '--inspect_brk',
    '--debug',
    '--debug-brk',
    '--debug-port=5858',
  ])('isDebuggerOption refuses %s', (option) => {
    expect(isDebuggerOption(option)).toBe(true);
  });

  it.each([
    '--conditions=@coffer/source',
    '--import',
    'tsx',
    '--enable-source-maps',
    '--max-old-space-size=4096',
    'inspect',
    '--no-warnings',
    '--title=--inspect',
  ])('isDebuggerOption allows %s', (option) => {
    expect(isDebuggerOption(option)).toBe(false);
  });
});

describe('findDebuggerOptions', () => {
  it('findDebuggerOptions finds options in execArgv and NODE_OPTIONS without their values', () => {
    const found = findDebuggerOptions({
      execArgv: ['--import', 'tsx', '--inspect-brk=0.0.0.0:9229'],
      nodeOptions: '--max-old-space-size=512 "--inspect-port=9230"  --debug',
    });
    expect(found).toEqual([
      { option: '--inspect-brk', source: 'execArgv' },
      { option: '--inspect-port', source: 'NODE_OPTIONS' },
      { option: '--debug', source: 'NODE_OPTIONS' },
    ]);
  });

  it('splitNodeOptions keeps a quoted value with spaces in one option', () => {
    expect(splitNodeOptions('--require "./a b.cjs" --inspect')).toEqual([
      '--require',
      './a b.cjs',
      '--inspect',
    ]);
    expect(splitNodeOptions('')).toEqual([]);
  });
});

describe('refuseDebugger', () => {
  it('refuseDebugger passes when there is no inspector option and no open inspector', () => {
    expect(() => {
      refuseDebugger({
        execArgv: ['--import', 'tsx'],
        nodeOptions: undefined,
        inspectorUrl: undefined,
      });
    }).not.toThrow();
  });

  it('refuseDebugger names each option and where it was found', () => {
    expect(() => {
      refuseDebugger({
        execArgv: ['--inspect'],
        nodeOptions: '--debug-port=1',
        inspectorUrl: undefined,
      });
    }).toThrow(
      expect.objectContaining({
        code: ApiErrorCode.debuggerRefused,
        message: expect.stringContaining(
          '"--inspect" in execArgv, "--debug-port" in NODE_OPTIONS',
        ) as unknown,
      }),
    );
  });

  it('refuseDebugger refuses an inspector that is already open', () => {
    expect(() => {
      refuseDebugger({ execArgv: [], nodeOptions: undefined, inspectorUrl: 'ws://127.0.0.1:1/x' });
    }).toThrow(
      expect.objectContaining({ message: expect.stringContaining('already open') as unknown }),
    );
  });
});
