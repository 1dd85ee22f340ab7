/**
 * Goal: a mount's TTLs never contradict each other or the server's: a default lease TTL above
 * the max in force is refused whether both come in one request or in two, and a TTL above the
 * server's maximum is refused (a mount may lower it, never raise it) instead of being clamped
 * behind a "success"; secrets engines and auth methods alike.
 * Method: single-voter CofferNode on real LevelDB through the router (request_test_support.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { closeOpenedNodes, removeRoot } from './lifecycle_harness.ts';
import { openRequestFixture, type RequestFixture } from './request_test_support.ts';

let f: RequestFixture;

beforeAll(async () => {
  f = await openRequestFixture();
  await f.mountKv();
  await f.ok({
    operation: 'update',
    path: 'sys/auth/approle',
    token: f.rootToken,
    data: { type: 'approle' },
  });
});

afterAll(async () => {
  await closeOpenedNodes();
  await removeRoot(f.harness.root);
});

async function tune(path: string, data: Record<string, unknown>) {
  return f.call({ operation: 'update', path, token: f.rootToken, data });
}

async function readTune(path: string): Promise<Record<string, unknown> | undefined> {
  return (await f.ok({ operation: 'read', path, token: f.rootToken })).data;
}

describe('mount tune', () => {
  it.each(['sys/mounts/secret/tune', 'sys/auth/approle/tune'])(
    'refuses a default lease TTL above the max already in force, and the reverse (%s)',
    async (path) => {
      await f.ok({ operation: 'update', path, token: f.rootToken, data: { max_lease_ttl: '1h' } });
      const higher = await tune(path, { default_lease_ttl: '2h' });
      expect(higher).toMatchObject({ ok: false, code: CoreErrorCode.invalidRequest });
      expect(higher.ok ? '' : higher.message).toMatch(/default_lease_ttl.*max_lease_ttl/);

      await f.ok({
        operation: 'update',
        path,
        token: f.rootToken,
        data: { default_lease_ttl: '30m' },
      });
      const lower = await tune(path, { max_lease_ttl: '10m' });
      expect(lower).toMatchObject({ ok: false, code: CoreErrorCode.invalidRequest });
      expect(await readTune(path)).toMatchObject({
        default_lease_ttl: 1800,
        max_lease_ttl: 3600,
      });
    },
  );

  it('refuses a TTL above the server maximum on tune and on enable instead of clamping it, and an unknown config field', async () => {
    const above = await tune('sys/mounts/secret/tune', { max_lease_ttl: '8760h' });
    expect(above).toMatchObject({ ok: false, code: CoreErrorCode.invalidRequest });
    expect(above.ok ? '' : above.message).toMatch(/768h/);
    const enabled = await f.call({
      operation: 'update',
      path: 'sys/mounts/kv-long',
      token: f.rootToken,
      data: { type: 'kv', config: { default_lease_ttl: '9000h' } },
    });
    expect(enabled).toMatchObject({ ok: false, code: CoreErrorCode.invalidRequest });
    const mounts = await f.ok({ operation: 'read', path: 'sys/mounts', token: f.rootToken });
    expect(Object.keys(mounts.data ?? {})).not.toContain('kv-long/');
    const unknown = await f.call({
      operation: 'update',
      path: 'sys/mounts/kv-odd',
      token: f.rootToken,
      data: { type: 'kv', config: { bogus_ttl: '1h', max_lease_ttl: '1h' } },
    });
    expect(unknown).toMatchObject({ ok: false, code: CoreErrorCode.invalidRequest });
    expect(unknown.ok ? '' : unknown.message).toMatch(/Remove the unknown field "bogus_ttl"/);
    // A tune that sets no TTL is not checked (a mount stored by an older version may hold
    // contradicting TTLs; its description must still be tunable).
    await f.ok({
      operation: 'update',
      path: 'sys/mounts/secret/tune',
      token: f.rootToken,
      data: { description: 'payments' },
    });
    // The server maximum itself is fine.
    await f.ok({
      operation: 'update',
      path: 'sys/mounts/secret/tune',
      token: f.rootToken,
      data: { max_lease_ttl: '768h', default_lease_ttl: '768h' },
    });
  });
});
