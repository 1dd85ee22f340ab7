/**
 * Goal (issue 6 proof): a whole CofferNode with a PKCS#11 seal, in a child process on a real
 * SoftHSM2 token: init, then a process restart unseals with no human and reads the value
 * written before; with the token's directory moved away the node stays sealed and says why
 * (token_absent), and once it is back it unseals by itself. Nothing the children print holds
 * the PIN, a recovery share or the root token.
 * Method: node_child.ts is forked through the tsx loader with this file's SOFTHSM2_CONF and
 * prints JSON lines; each wait is on a line or an exit with a deadline, never a fixed sleep. The
 * child runs on real time with a short backoff (50 to 200 ms).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { JsonLineChild, type JsonLine } from '../seal/json_line_child.ts';
import type { Pkcs11SealConfig } from '../seal/pkcs11_config.ts';
import {
  createSoftHsmToken,
  softHsmLibraryPath,
  type SoftHsmToken,
} from '../seal/softhsm_fixture.ts';

const childScript = fileURLToPath(new URL('./node_child.ts', import.meta.url));
const deadlineMs = 20_000;

type Line = JsonLine;

let token: SoftHsmToken;
let dir: string;
const outputs: string[] = [];

function start(command: string): JsonLineChild {
  const child = new JsonLineChild(childScript, {
    args: [command, dir],
    env: token.env(),
    deadlineMs,
  });
  void child.exited.then(() => outputs.push(child.output));
  return child;
}

const reasonIs = (reason: string) => (line: Line) => line['reason'] === reason;

describe('CofferNode with a PKCS#11 seal in a child process', () => {
  beforeAll(() => {
    token = createSoftHsmToken('coffer-node-child');
    dir = join(token.dir, 'state');
    mkdirSync(dir, { mode: 0o700 });
    const config: Pkcs11SealConfig = {
      libraryPath: softHsmLibraryPath,
      tokenLabel: token.label,
      pinFile: token.pinFile,
      keyLabel: 'coffer-node-key',
    };
    writeFileSync(join(dir, 'seal.json'), JSON.stringify(config));
  }, 300_000);

  afterAll(() => {
    token.cleanup();
  });

  it('CofferNode init, then a restarted process unseals with no human', async () => {
    const init = start('init');
    await init.waitFor('initialized', (line) => line['event'] === 'initialized');
    expect(await init.exited).toBe(0);
    const run = start('run');
    expect(await run.waitFor('opened', (line) => line['event'] === 'opened')).toMatchObject({
      status: { sealed: true, initialized: true, raftRunning: false },
    });
    const unsealed = await run.waitFor('unsealed', (line) => line['event'] === 'unsealed');
    expect(unsealed).toMatchObject({ verified: true });
    expect(await run.exited).toBe(0);
  }, 40_000);

  it('CofferNode stays sealed with token_absent while the token is away and unseals once it is back', async () => {
    token.moveAway();
    const run = start('run');
    try {
      await run.waitFor('token_absent', reasonIs('token_absent'));
      expect(run.lines.some((line) => line['event'] === 'unsealed')).toBe(false);
    } finally {
      token.moveBack();
    }
    const unsealed = await run.waitFor('unsealed', (line) => line['event'] === 'unsealed');
    expect(unsealed).toMatchObject({ verified: true });
    expect(await run.exited).toBe(0);
  }, 40_000);

  it('CofferNode children print no PIN and no recovery share', () => {
    const shares = readFileSync(join(dir, 'recovery.shares'), 'utf8')
      .split('\n')
      .filter((line) => line.length > 0);
    expect(shares).toHaveLength(3);
    const all = outputs.join('\n');
    expect(all).toContain('seal_ready');
    for (const canary of [token.userPin, ...shares.map((s) => s.slice('coffer1:'.length))]) {
      expect(all.includes(canary)).toBe(false);
    }
  });
});
