/**
 * Goal (issue 6 proof): with core's seal running in a child process on a real SoftHSM2 token,
 * init then a process restart unseals with no human; with the token's directory moved away the
 * node stays sealed and says why, and unseals by itself once it is back; with the token
 * destroyed for good, break-glass shares still recover the root key. No share, PIN or root key
 * shows up in anything the children print.
 *
 * Method: pkcs11_child.ts is forked through the tsx loader with this test's SOFTHSM2_CONF and
 * prints JSON lines. Each wait is on an event (a line, an exit) with a deadline, never a fixed
 * sleep; the child's own retries use a short real backoff (50 to 200 ms). The parent then
 * rebuilds the root key from the break-glass shares and scans all output for it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ManualClock } from '@coffer/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { SecretKey } from '../barrier/secret_key.ts';
import { AttemptLimiter } from './attempt_limiter.ts';
import { createBreakGlassQuorum } from './break_glass.ts';
import type { Pkcs11SealConfig } from './pkcs11_config.ts';
import { JsonLineChild } from './json_line_child.ts';
import { createSoftHsmToken, softHsmLibraryPath, type SoftHsmToken } from './softhsm_fixture.ts';

const childScript = fileURLToPath(new URL('./pkcs11_child.ts', import.meta.url));
const deadlineMs = 15_000;

let token: SoftHsmToken;
let stateDir: string;
const outputs: string[] = [];

function start(command: string): JsonLineChild {
  const child = new JsonLineChild(childScript, {
    args: [command, stateDir],
    env: token.env(),
    deadlineMs,
  });
  void child.exited.then(() => outputs.push(child.output));
  return child;
}

beforeAll(() => {
  token = createSoftHsmToken('coffer-child');
  stateDir = join(token.dir, 'state');
  mkdirSync(stateDir, { mode: 0o700 });
  const config: Pkcs11SealConfig = {
    libraryPath: softHsmLibraryPath,
    tokenLabel: token.label,
    pinFile: token.pinFile,
    keyLabel: 'coffer-root-wrap',
  };
  writeFileSync(join(stateDir, 'seal.json'), JSON.stringify(config));
}, 300_000);

afterAll(() => {
  token.cleanup();
});

describe('PKCS#11 seal in a child process', () => {
  it('init then a restarted process auto-unseals through the HSM', async () => {
    const init = start('init');
    await init.waitFor('initialized', (line) => line['event'] === 'initialized');
    expect(await init.exited).toBe(0);
    expect(init.lines.some((line) => line['event'] === 'seal_key_generated')).toBe(true);
    const run = start('run');
    const unsealed = await run.waitFor('unsealed', (line) => line['event'] === 'unsealed');
    expect(unsealed).toMatchObject({ via: 'hsm', verified: true });
    expect(await run.exited).toBe(0);
  }, 30_000);

  it('stays sealed with token_absent while the token is away and unseals once it is back', async () => {
    token.moveAway();
    const run = start('run');
    try {
      const sealed = await run.waitFor('token_absent', (line) => line['reason'] === 'token_absent');
      expect(sealed).toMatchObject({ event: 'seal_unavailable' });
      expect(run.lines.some((line) => line['event'] === 'unsealed')).toBe(false);
    } finally {
      token.moveBack();
    }
    const unsealed = await run.waitFor('unsealed', (line) => line['event'] === 'unsealed');
    expect(unsealed).toMatchObject({ via: 'hsm', verified: true });
    expect(await run.exited).toBe(0);
  }, 30_000);

  it('with the token destroyed, stays sealed, and break-glass shares recover the root key', async () => {
    token.destroy();
    const run = start('run');
    await run.waitFor('token_absent', (line) => line['reason'] === 'token_absent');
    run.kill();
    await run.exited;
    const glass = start('break-glass');
    const unsealed = await glass.waitFor('unsealed', (line) => line['event'] === 'unsealed');
    expect(unsealed).toMatchObject({ via: 'break-glass', verified: true });
    expect(await glass.exited).toBe(0);
  }, 30_000);

  it('no share, PIN or root key appears in any child output', async () => {
    const shares = ['recovery.shares', 'break-glass.shares'].flatMap((name) =>
      readFileSync(join(stateDir, name), 'utf8')
        .split('\n')
        .filter((line) => line.length > 0),
    );
    const rootKey = await rebuildRootKey(shares.slice(3));
    const canaries = [
      token.userPin,
      ...shares,
      ...shares.map((share) => share.slice('coffer1:'.length)),
      rootKey.reveal().toString('hex'),
      rootKey.reveal().toString('base64'),
      rootKey.reveal().toString('base64url'),
    ];
    const all = outputs.join('\n');
    expect(all.length).toBeGreaterThan(0);
    for (const canary of canaries) {
      expect(all.includes(canary)).toBe(false);
    }
  });
});

/** The root key, from the break-glass shares and the stored state, in this process. */
async function rebuildRootKey(breakGlassShares: readonly string[]): Promise<SecretKey> {
  const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as {
    clusterId: string;
    breakGlass: { shares: number; threshold: number; wrapped: string };
  };
  const quorum = createBreakGlassQuorum({
    config: state.breakGlass,
    wrapped: Buffer.from(state.breakGlass.wrapped, 'base64'),
    binding: { clusterId: state.clusterId },
    limiter: new AttemptLimiter(new ManualClock()),
  });
  for (const share of breakGlassShares) {
    const step = await quorum.submit(share);
    if (step.ok && step.done) {
      return step.value;
    }
  }
  throw new Error('break-glass shares did not open the root key');
}
