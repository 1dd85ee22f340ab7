/**
 * Goal (checklist AU4, P5; STYLE.md 4.5, 5.7): no share, root key or PIN reaches a log line, an
 * error message or cause, a status, util.inspect or JSON output of any seal object.
 *
 * Method: run the seal through its normal and failing paths (init, unseal with good, bad,
 * repeated and malformed shares, rekey, recovery, break-glass, PKCS#11 with a wrong and a right
 * PIN, a token that disappears) while collecting every logger call, every returned refusal,
 * every thrown error (inspected with its cause chain) and the inspect and JSON forms of every
 * object; then search all of it for the secrets in hex, base64, base64url and text.
 */
import { inspect } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ManualClock } from '@coffer/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { SecretKey } from '../barrier/secret_key.ts';
import { AttemptLimiter } from './attempt_limiter.ts';
import { createBreakGlass, createBreakGlassQuorum } from './break_glass.ts';
import { Pkcs11Seal } from './pkcs11_seal.ts';
import { createRecoveryKey, createRecoveryQuorum } from './recovery_key.ts';
import { createRekeyQuorum } from './rekey.ts';
import type { SealLogger } from './seal_provider.ts';
import { createUnsealQuorum, generateRootKey, initShamir, ShamirSeal } from './shamir_seal.ts';
import { encodeShare } from './share_encoding.ts';
import { createSoftHsmToken, softHsmLibraryPath, type SoftHsmToken } from './softhsm_fixture.ts';

const binding = { clusterId: 'canary-cluster' };
const config = { shares: 3, threshold: 2 };
let token: SoftHsmToken;

/** Everything the seal showed to the outside world during the test. */
const observed: string[] = [];
/** Every secret that must never show. */
const secrets: string[] = [];

function observe(value: unknown): void {
  observed.push(inspect(value, { depth: Number.POSITIVE_INFINITY, showHidden: true }));
  try {
    observed.push(JSON.stringify(value));
  } catch {
    // Circular structures (errors with causes) are covered by inspect.
  }
  if (value instanceof Error) {
    observed.push(value.message, String(value.stack), String(value));
  }
}

function secret(key: SecretKey): void {
  const bytes = key.reveal();
  secrets.push(bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url'));
}

const logger: SealLogger = {
  info: (event, fields) => {
    observe({ event, ...fields });
  },
  warn: (event, fields) => {
    observe({ event, ...fields });
  },
};

async function attempt(call: () => Promise<unknown>): Promise<void> {
  try {
    observe(await call());
  } catch (error) {
    observe(error);
  }
}

beforeAll(() => {
  token = createSoftHsmToken('coffer-canary');
  token.useInThisProcess();
  secrets.push(token.userPin, Buffer.from(token.userPin).toString('hex'));
}, 300_000);

afterAll(() => {
  token.cleanup();
});

describe('canary scan', () => {
  it('Shamir init, unseal, rekey, recovery and break-glass leak no secret', async () => {
    const limiter = new AttemptLimiter(new ManualClock());
    const rootKey = generateRootKey();
    secret(rootKey);
    const init = await initShamir(rootKey, { config, binding });
    const recovery = await createRecoveryKey({ config, binding });
    const glass = await createBreakGlass(rootKey, { config, binding });
    for (const share of [...init.shares, ...recovery.shares, ...glass.shares]) {
      secret(share);
      secrets.push(encodeShare(share));
    }
    observe(init);
    observe(recovery);
    observe(glass);
    const options = { config, wrapped: init.wrappedRootKey, binding, limiter };
    const unseal = createUnsealQuorum(options);
    for (const share of [init.shares[0], init.shares[0], recovery.shares[1]]) {
      await attempt(() => unseal.submit(encodeShare(share as SecretKey)));
      observe(unseal);
    }
    await attempt(() => unseal.submit(`${encodeShare(init.shares[1] as SecretKey)}!`));
    await attempt(() => unseal.submit(encodeShare(init.shares[1] as SecretKey), { nonce: 'old' }));
    for (const share of init.shares.slice(1)) {
      await attempt(() => unseal.submit(encodeShare(share)));
    }
    const rekey = createRekeyQuorum({ ...options, next: { shares: 2, threshold: 2 } });
    for (const share of init.shares.slice(0, 2)) {
      await attempt(() => rekey.submit(encodeShare(share)));
    }
    const authorize = createRecoveryQuorum({ ...options, wrapped: recovery.check });
    const breakGlass = createBreakGlassQuorum({ ...options, wrapped: glass.wrappedRootKey });
    for (const share of recovery.shares.slice(0, 2)) {
      await attempt(() => authorize.submit(encodeShare(share)));
      await attempt(() => breakGlass.submit(encodeShare(share)));
    }
    const seal = new ShamirSeal(generateRootKey());
    observe(seal);
    await attempt(() => seal.unwrapRootKey(init.wrappedRootKey, binding));
    await seal.close();
    await attempt(() => seal.wrapRootKey(rootKey, binding));
  });

  it('the PKCS#11 seal leaks no PIN or root key through logs, statuses and errors', async () => {
    const wrongPin = join(token.dir, 'wrong.pin');
    writeFileSync(wrongPin, 'wrong-pin-canary', { mode: 0o600 });
    secrets.push('wrong-pin-canary');
    const base = { libraryPath: softHsmLibraryPath, tokenLabel: token.label, keyLabel: 'canary' };
    const refused = new Pkcs11Seal({ ...base, pinFile: wrongPin }, { logger });
    observe(await refused.connect());
    await attempt(() => refused.generateKey());
    await refused.close();
    const seal = new Pkcs11Seal({ ...base, pinFile: token.pinFile }, { logger });
    await seal.generateKey();
    const rootKey = generateRootKey();
    secret(rootKey);
    const wrapped = await seal.wrapRootKey(rootKey, binding);
    await attempt(() => seal.unwrapRootKey(wrapped, binding));
    await attempt(() => seal.unwrapRootKey(wrapped, { clusterId: 'elsewhere' }));
    token.moveAway();
    await attempt(() => seal.unwrapRootKey(wrapped, binding));
    token.moveBack();
    await attempt(() => seal.unwrapRootKey(wrapped, binding));
    observe(seal);
    observe(seal.status());
    await seal.close();
  });

  it('none of the observed output contains a secret', () => {
    expect(observed.length).toBeGreaterThan(50);
    expect(secrets.length).toBeGreaterThan(20);
    const all = observed.join('\n');
    const leaks = secrets.filter((value) => all.includes(value));
    expect(leaks).toEqual([]);
  });
});
