/**
 * Goal: hardenProcess on a real process: a child that starts with core dumps allowed ends with
 * "Max core file size 0 0" in /proc/<pid>/limits; outside dev mode a secret-bearing variable
 * or an inspector option in NODE_OPTIONS makes it refuse with its code, naming the variable or
 * option and never the value; in dev mode the same variable is only a warning.
 * Method: hardening_child.ts runs under util-linux `prlimit --core=<hard>:<hard>` (the hard
 * limit this test runner has, so no privilege is needed) so it starts with core dumps on; the
 * test reads the child's /proc/<pid>/limits itself after the child's `hardened` line. Waits
 * are on lines or exits with a deadline, never sleeps.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { ApiErrorCode } from '../errors.ts';
import { parseCoreLimit } from './core_dumps.ts';
import { LineChild, type LineChildOptions } from './line_child.ts';
import { secretEnvironmentVariables } from './secret_environment.ts';

const childScript = fileURLToPath(new URL('./hardening_child.ts', import.meta.url));
const deadlineMs = 20_000;
const hardCoreLimit = parseCoreLimit(readFileSync('/proc/self/limits', 'utf8'))?.hard ?? '0';
const children: LineChild[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    child.signal('SIGKILL');
    await child.exited;
  }
});

/** The runner's environment without anything the hardening refuses. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const refused = new Set<string>([...secretEnvironmentVariables, 'NODE_OPTIONS']);
  const kept = Object.entries(process.env).filter(([name]) => !refused.has(name));
  return { ...Object.fromEntries(kept), ...extra };
}

function start(mode: 'dev' | 'prod', options: Partial<LineChildOptions> = {}): LineChild {
  const child = new LineChild(childScript, {
    args: [mode],
    env: cleanEnv(),
    deadlineMs,
    ...options,
  });
  children.push(child);
  return child;
}

describe('hardenProcess in a real process', () => {
  it.skipIf(hardCoreLimit === '0')(
    'hardenProcess sets the core limit of a process that allowed core dumps to 0 0',
    async () => {
      const child = start('prod', {
        wrapper: ['prlimit', `--core=${hardCoreLimit}:${hardCoreLimit}`, '--'],
      });
      const started = await child.waitForLine(
        'started line',
        (line) => line['event'] === 'started',
      );
      expect(started['coreLimit']).toEqual({ soft: hardCoreLimit, hard: hardCoreLimit });
      const hardened = await child.waitForLine('hardened', (line) => line['event'] === 'hardened');
      const limits = readFileSync(`/proc/${String(hardened['pid'])}/limits`, 'utf8');
      expect(limits).toMatch(/^Max core file size\s+0\s+0\s+bytes/m);
      expect(child.lines).toContainEqual(
        expect.objectContaining({ event: 'core_dumps_off', changed: true }),
      );
      expect(await child.end()).toBe(0);
    },
    60_000,
  );

  it('hardenProcess refuses a secret-bearing variable outside dev mode and hides its value', async () => {
    const value = 'cof.tokenvalue-that-must-not-leak';
    const child = start('prod', { env: cleanEnv({ COFFER_TOKEN: value }) });
    const refused = await child.waitForLine('refused', (line) => line['event'] === 'refused');
    expect(refused['code']).toBe(ApiErrorCode.secretInEnvironment);
    expect(refused['message']).toContain('"COFFER_TOKEN"');
    expect(await child.exited).toBe(3);
    expect(`${JSON.stringify(child.lines)}${child.stderr}`).not.toContain(value);
  }, 60_000);

  it('hardenProcess refuses --inspect in NODE_OPTIONS outside dev mode', async () => {
    const child = start('prod', { env: cleanEnv({ NODE_OPTIONS: '--inspect=127.0.0.1:0' }) });
    const refused = await child.waitForLine('refused', (line) => line['event'] === 'refused');
    expect(refused['code']).toBe(ApiErrorCode.debuggerRefused);
    expect(refused['message']).toContain('"--inspect" in NODE_OPTIONS');
    expect(await child.exited).toBe(3);
  }, 60_000);

  it('hardenProcess only warns about a secret-bearing variable in dev mode', async () => {
    const child = start('dev', { env: cleanEnv({ VAULT_TOKEN: 'hvs.devonly' }) });
    await child.waitForLine('hardened', (line) => line['event'] === 'hardened');
    expect(child.lines).toContainEqual(
      expect.objectContaining({
        event: 'secret_in_environment_in_dev',
        variables: ['VAULT_TOKEN'],
      }),
    );
    expect(await child.end()).toBe(0);
  }, 60_000);
});
