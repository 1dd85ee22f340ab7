/**
 * The child process of pkcs11_child.test.ts: the seal part of a node, on a real SoftHSM2 token,
 * in its own process, so that restarts are real process restarts.
 *
 * Usage (forked through the tsx loader, SOFTHSM2_CONF in the environment):
 *   pkcs11_child.ts init <stateDir>         generate the HSM key, a root key, recovery and
 *                                           break-glass shares; store the wrapped root key
 *   pkcs11_child.ts run <stateDir>          auto-unseal through the HSM, retrying with backoff
 *   pkcs11_child.ts break-glass <stateDir>  unseal with the stored break-glass shares, no HSM
 *
 * `<stateDir>/seal.json` holds the Pkcs11SealConfig. The child writes `state.json` (only
 * non-secret data: wrapped keys, checks, share configs) and the shares to `*.shares` files with
 * mode 0600, standing in for the people who would hold them. It prints one JSON object per line
 * on stdout: seal events and the outcome. Nothing secret is ever printed; the parent scans for
 * that. A stand-in for the keyring check: an HMAC of a fixed string under the root key, so
 * `run` proves it unwrapped the same root key that `init` made.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { SecretKey } from '../barrier/secret_key.ts';
import { AttemptLimiter } from './attempt_limiter.ts';
import { createBreakGlass, createBreakGlassQuorum } from './break_glass.ts';
import type { Pkcs11SealConfig } from './pkcs11_config.ts';
import { Pkcs11Seal, waitForSeal } from './pkcs11_seal.ts';
import { createRecoveryKey } from './recovery_key.ts';
import type { SealClock, SealLogger } from './seal_provider.ts';
import { generateRootKey } from './shamir_seal.ts';
import { encodeShare } from './share_encoding.ts';

/** What `init` stores; none of it is secret. */
interface ChildState {
  readonly clusterId: string;
  readonly wrappedRootKey: string;
  readonly rootKeyCheck: string;
  readonly recovery: {
    readonly shares: number;
    readonly threshold: number;
    readonly check: string;
  };
  readonly breakGlass: {
    readonly shares: number;
    readonly threshold: number;
    readonly wrapped: string;
  };
}

const shareConfig = { shares: 3, threshold: 2 };
const clusterId = 'child-cluster-1';

/** Real time, with the short backoff this test wants. */
const clock: SealClock = {
  nowMs: () => performance.now(),
  setTimer: (delayMs, callback) => {
    const handle = setTimeout(callback, delayMs);
    return {
      cancel: () => {
        clearTimeout(handle);
      },
    };
  },
};

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const logger: SealLogger = {
  info: (event, fields) => {
    print({ event, ...fields });
  },
  warn: (event, fields) => {
    print({ event, ...fields });
  },
};

function rootKeyCheck(rootKey: SecretKey): Buffer {
  return createHmac('sha256', rootKey.reveal()).update('coffer child check').digest();
}

function writeShares(path: string, shares: readonly SecretKey[]): void {
  writeFileSync(path, shares.map((share) => `${encodeShare(share)}\n`).join(''), { mode: 0o600 });
  for (const share of shares) {
    share.zero();
  }
}

async function init(stateDir: string, config: Pkcs11SealConfig): Promise<void> {
  const seal = new Pkcs11Seal(config, { logger });
  await seal.generateKey();
  const rootKey = generateRootKey();
  const binding = { clusterId };
  const wrapped = await seal.wrapRootKey(rootKey, binding);
  const recovery = await createRecoveryKey({ config: shareConfig, binding });
  const breakGlass = await createBreakGlass(rootKey, { config: shareConfig, binding });
  const state: ChildState = {
    clusterId,
    wrappedRootKey: wrapped.toString('base64'),
    rootKeyCheck: rootKeyCheck(rootKey).toString('base64'),
    recovery: { ...shareConfig, check: recovery.check.toString('base64') },
    breakGlass: { ...shareConfig, wrapped: breakGlass.wrappedRootKey.toString('base64') },
  };
  rootKey.zero();
  writeFileSync(join(stateDir, 'state.json'), JSON.stringify(state));
  writeShares(join(stateDir, 'recovery.shares'), recovery.shares);
  writeShares(join(stateDir, 'break-glass.shares'), breakGlass.shares);
  await seal.close();
  print({ event: 'initialized' });
}

function verified(rootKey: SecretKey, state: ChildState): boolean {
  const expected = Buffer.from(state.rootKeyCheck, 'base64');
  const ok = timingSafeEqual(rootKeyCheck(rootKey), expected);
  rootKey.zero();
  return ok;
}

async function run(state: ChildState, config: Pkcs11SealConfig): Promise<void> {
  const seal = new Pkcs11Seal(config, { logger });
  await waitForSeal(seal, { clock, delayBaseMs: 50, delayMaxMs: 200 });
  const rootKey = await seal.unwrapRootKey(Buffer.from(state.wrappedRootKey, 'base64'), {
    clusterId: state.clusterId,
  });
  print({ event: 'unsealed', via: 'hsm', verified: verified(rootKey, state) });
  await seal.close();
}

async function breakGlass(stateDir: string, state: ChildState): Promise<void> {
  const quorum = createBreakGlassQuorum({
    config: state.breakGlass,
    wrapped: Buffer.from(state.breakGlass.wrapped, 'base64'),
    binding: { clusterId: state.clusterId },
    limiter: new AttemptLimiter(clock),
  });
  const lines = readFileSync(join(stateDir, 'break-glass.shares'), 'utf8').split('\n');
  for (const line of lines.slice(0, state.breakGlass.threshold)) {
    const step = await quorum.submit(line);
    print({ event: 'share', ok: step.ok, progress: step.progress.progress });
    if (step.ok && step.done) {
      print({ event: 'unsealed', via: 'break-glass', verified: verified(step.value, state) });
    }
  }
}

async function main(): Promise<void> {
  const [command, stateDir] = process.argv.slice(2);
  if (stateDir === undefined) {
    throw new Error('usage: pkcs11_child.ts init|run|break-glass <stateDir>');
  }
  const config = JSON.parse(readFileSync(join(stateDir, 'seal.json'), 'utf8')) as Pkcs11SealConfig;
  if (command === 'init') {
    await init(stateDir, config);
    return;
  }
  const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as ChildState;
  if (command === 'run') {
    await run(state, config);
  } else if (command === 'break-glass') {
    await breakGlass(stateDir, state);
  } else {
    throw new Error(`unknown command "${String(command)}"`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    const code = (error as { code?: unknown }).code;
    print({ event: 'failed', code: typeof code === 'string' ? code : 'unknown' });
    process.exit(1);
  },
);
