/**
 * Goal: every lifecycle step an API adapter needs is one CofferNode.handle request: init,
 * unseal (any order, reset, refusals), rekey, generate-root, and the sudo operator routes
 * sys/seal, sys/rotate, sys/key-status and sys/step-down; responses carry the mount path for
 * metrics; a path holding U+FFFD (what a decoder makes of invalid UTF-8) is an invalid path.
 * Method: a fresh single-voter node on real LevelDB per test, driven on a manual clock;
 * requests only through handle(), as the gRPC adapter sends them.
 */
import { InMemoryNetwork, ManualClock } from '@coffer/raft/testing';
import { afterEach, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { Operation, type CoreRequest, type CoreResponse } from '../router/request.ts';
import type { CofferNode } from './coffer_node.ts';
import {
  closeOpenedNodes,
  drive,
  openNode,
  removeRoot,
  singleNodeOptions,
  tempRoot,
  waitForLeader,
  type Harness,
} from './lifecycle_harness.ts';
import { decodeTokenWithOtp, generateRootOtp } from './root_token_otp.ts';

const roots: string[] = [];

afterEach(async () => {
  await closeOpenedNodes();
  for (const root of roots.splice(0)) {
    await removeRoot(root);
  }
});

async function freshNode(): Promise<{ harness: Harness; node: CofferNode }> {
  const harness: Harness = {
    root: await tempRoot(),
    clock: new ManualClock(),
    network: new InMemoryNetwork(),
  };
  roots.push(harness.root);
  const node = await openNode(
    harness,
    singleNodeOptions(harness, { dir: 'node', seal: { type: 'shamir' } }),
  );
  return { harness, node };
}

function caller(harness: Harness, node: CofferNode) {
  return async (request: CoreRequest): Promise<CoreResponse> =>
    drive(harness, node.handle(request));
}

function dataOf(response: CoreResponse): Record<string, unknown> {
  if (!response.ok) {
    throw new Error(`refused: ${response.code} ${response.message}`);
  }
  return { ...response.data };
}

async function initAndUnsealOne(harness: Harness, node: CofferNode): Promise<string> {
  const call = caller(harness, node);
  const init = dataOf(
    await call({
      operation: Operation.update,
      path: 'sys/init',
      data: { secret_shares: 1, secret_threshold: 1 },
    }),
  );
  const [key] = init['keys'] as string[];
  dataOf(await call({ operation: Operation.update, path: 'sys/unseal', data: { key } }));
  return init['root_token'] as string;
}

async function initAndUnseal(harness: Harness, node: CofferNode) {
  const call = caller(harness, node);
  const init = dataOf(
    await call({
      operation: Operation.update,
      path: 'sys/init',
      data: { secret_shares: 5, secret_threshold: 3 },
    }),
  );
  const keys = init['keys'] as string[];
  const rootToken = init['root_token'] as string;
  expect(node.status().sealed).toBe(true);
  return { call, keys, rootToken };
}

describe('lifecycle endpoints through handle()', () => {
  it('init answers 5 shares and a root token; unseal takes 3 shares in any order', async () => {
    const { harness, node } = await freshNode();
    const { call, keys, rootToken } = await initAndUnseal(harness, node);
    expect(keys).toHaveLength(5);
    const order = [keys[4], keys[1], keys[2]] as string[];
    const first = dataOf(
      await call({ operation: Operation.update, path: 'sys/unseal', data: { key: order[0] } }),
    );
    expect(first).toMatchObject({ sealed: true, t: 3, n: 5, progress: 1 });
    await call({ operation: Operation.update, path: 'sys/unseal', data: { key: order[1] } });
    const last = dataOf(
      await call({ operation: Operation.update, path: 'sys/unseal', data: { key: order[2] } }),
    );
    expect(last['sealed']).toBe(false);
    await waitForLeader(harness, node);
    const read = await call({ operation: Operation.read, path: 'sys/mounts', token: rootToken });
    expect(read.ok).toBe(true);
  });

  it('unseal refuses a malformed share, unknown fields and resets on request', async () => {
    const { harness, node } = await freshNode();
    const { call, keys } = await initAndUnseal(harness, node);
    const bad = await call({ operation: Operation.update, path: 'sys/unseal', data: { key: 'x' } });
    expect(bad).toMatchObject({ ok: false, code: CoreErrorCode.shareMalformed });
    const unknown = await call({
      operation: Operation.update,
      path: 'sys/unseal',
      data: { share: keys[0] },
    });
    expect(unknown).toMatchObject({ ok: false, code: CoreErrorCode.invalidRequest });
    const migrate = await call({
      operation: Operation.update,
      path: 'sys/unseal',
      data: { key: keys[0], migrate: true },
    });
    expect(migrate).toMatchObject({ ok: false, code: CoreErrorCode.unsupportedOperation });
    expect(node.status().unseal?.progress).toBe(0);
    expect(JSON.stringify(unknown)).not.toContain(keys[0]);
    await call({ operation: Operation.update, path: 'sys/unseal', data: { key: keys[0] } });
    const reset = dataOf(
      await call({ operation: Operation.update, path: 'sys/unseal', data: { reset: true } }),
    );
    expect(reset['progress']).toBe(0);
    const again = await call({ operation: Operation.update, path: 'sys/init', data: {} });
    expect(again).toMatchObject({ ok: false, code: CoreErrorCode.alreadyInitialized });
  });

  it('a second init is refused as already initialized', async () => {
    const { harness, node } = await freshNode();
    const call = caller(harness, node);
    dataOf(await call({ operation: Operation.update, path: 'sys/init', data: {} }));
    const second = await call({ operation: Operation.update, path: 'sys/init', data: {} });
    expect(second).toMatchObject({ ok: false, code: CoreErrorCode.alreadyInitialized });
  });

  it('rekey through handle: init, shares, new shares that unseal', async () => {
    const { harness, node } = await freshNode();
    const { call, keys } = await initAndUnseal(harness, node);
    for (const key of keys.slice(0, 3)) {
      await call({ operation: Operation.update, path: 'sys/unseal', data: { key } });
    }
    await waitForLeader(harness, node);
    const started = dataOf(
      await call({
        operation: Operation.update,
        path: 'sys/rekey/init',
        data: { secret_shares: 3, secret_threshold: 2 },
      }),
    );
    const nonce = started['nonce'] as string;
    expect(started).toMatchObject({ started: true, new_shares: 3, new_threshold: 2 });
    let last: Record<string, unknown> = {};
    for (const key of keys.slice(0, 3)) {
      last = dataOf(
        await call({ operation: Operation.update, path: 'sys/rekey/update', data: { key, nonce } }),
      );
    }
    expect(last['complete']).toBe(true);
    const next = last['keys'] as string[];
    await node.seal();
    for (const key of next.slice(0, 2)) {
      await call({ operation: Operation.update, path: 'sys/unseal', data: { key } });
    }
    expect(node.status().sealed).toBe(false);
  });

  it('generate-root through handle answers an OTP-encoded token that works', async () => {
    const { harness, node } = await freshNode();
    const { call, keys } = await initAndUnseal(harness, node);
    for (const key of keys.slice(0, 3)) {
      await call({ operation: Operation.update, path: 'sys/unseal', data: { key } });
    }
    await waitForLeader(harness, node);
    const otp = generateRootOtp();
    const started = dataOf(
      await call({ operation: Operation.update, path: 'sys/generate-root/attempt', data: { otp } }),
    );
    const nonce = started['nonce'] as string;
    let last: Record<string, unknown> = {};
    for (const key of keys.slice(0, 3)) {
      last = dataOf(
        await call({
          operation: Operation.update,
          path: 'sys/generate-root/update',
          data: { key, nonce },
        }),
      );
    }
    const token = decodeTokenWithOtp(last['encoded_token'] as string, otp);
    const mounts = await call({ operation: Operation.read, path: 'sys/mounts', token });
    expect(mounts.ok).toBe(true);
  });

  it('sys/seal, sys/rotate and sys/key-status need sudo and act on the node', async () => {
    const { harness, node } = await freshNode();
    const call = caller(harness, node);
    const token = await initAndUnsealOne(harness, node);
    const before = dataOf(await call({ operation: Operation.read, path: 'sys/key-status', token }));
    const rotated = dataOf(await call({ operation: Operation.update, path: 'sys/rotate', token }));
    expect(rotated['term']).toBe((before['term'] as number) + 1);
    const none = await call({ operation: Operation.update, path: 'sys/seal' });
    expect(none).toMatchObject({ ok: false, code: CoreErrorCode.permissionDenied });
    const down = await call({ operation: Operation.update, path: 'sys/step-down', token });
    expect(down).toMatchObject({ ok: true, warnings: [expect.stringContaining('only voter')] });
    expect((await call({ operation: Operation.update, path: 'sys/seal', token })).ok).toBe(true);
    expect(node.status().sealed).toBe(true);
    const after = await call({ operation: Operation.read, path: 'sys/mounts', token });
    expect(after).toMatchObject({ ok: false, code: CoreErrorCode.sealed });
  });

  it('responses carry the mount path; a U+FFFD path is invalid; metrics() counts', async () => {
    const { harness, node } = await freshNode();
    const call = caller(harness, node);
    const token = await initAndUnsealOne(harness, node);
    const read = await call({ operation: Operation.read, path: 'sys/policies/acl', token });
    expect(read.mountPath).toBe('sys/');
    const bad = await call({ operation: Operation.read, path: 'secret/\ufffd', token });
    expect(bad).toMatchObject({ ok: false, code: CoreErrorCode.invalidPath });
    const metrics = node.metrics();
    expect(metrics).toMatchObject({ sealed: false, initialized: true, active: true });
    expect(metrics.raft?.commitIndex).toBeGreaterThan(0);
  });
});
