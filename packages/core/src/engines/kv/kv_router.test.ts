/**
 * Goal: the KV engine behind the real Router: a write is a `create` or an `update` for the
 * policy check by the data route's existence check, reads take `version`, the root and folder
 * listings answer through `metadata/` paths, and refusals keep their codes.
 * Method: the router's fakeRouter (memory storage, fake tokens and an allow-list ACL) with a
 * kv mount at `secret/`.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { fakeRouter } from '../../router/router_test_support.ts';
import { createKvBackend } from './kv_backend.ts';
import { kvTestMount } from './kv_test_support.ts';

async function setUp() {
  const fixture = await fakeRouter({
    rules: new Map([
      ['creator', ['create secret/data/*', 'read secret/data/*']],
      ['writer', ['create secret/data/*', 'update secret/data/*', 'read secret/data/*']],
    ]),
    factories: { kv: () => createKvBackend(kvTestMount()) },
    mounts: [{ path: 'secret/', type: 'kv' }],
  });
  fixture.tokens.add('t-creator', ['creator']);
  fixture.tokens.add('t-writer', ['writer']);
  fixture.tokens.add('t-root', ['root']);
  return fixture;
}

describe('kv behind the router', () => {
  it('kv data write is a create for a new secret and an update for an existing one', async () => {
    const { handle } = await setUp();
    const write = (token: string, v: number) =>
      handle({ operation: 'update', path: 'secret/data/app', token, data: { data: { v } } });
    expect(await write('t-creator', 1)).toMatchObject({ ok: true, data: { version: 1 } });
    expect(await write('t-creator', 2)).toMatchObject({
      ok: false,
      code: CoreErrorCode.permissionDenied,
    });
    expect(await write('t-writer', 2)).toMatchObject({ ok: true, data: { version: 2 } });
    const read = await handle({
      operation: 'read',
      path: 'secret/data/app',
      token: 't-creator',
      data: { version: 1 },
    });
    expect(read).toMatchObject({ ok: true, data: { data: { v: 1 } } });
  });

  it('kv metadata lists the root and folders, and refusals keep their codes', async () => {
    const { handle } = await setUp();
    for (const path of ['a', 'a/b', 'c/d']) {
      await handle({
        operation: 'update',
        path: `secret/data/${path}`,
        token: 't-root',
        data: { data: {} },
      });
    }
    expect(
      await handle({ operation: 'list', path: 'secret/metadata/', token: 't-root' }),
    ).toMatchObject({ ok: true, data: { keys: ['a', 'a/', 'c/'] } });
    expect(
      await handle({ operation: 'list', path: 'secret/metadata/a/', token: 't-root' }),
    ).toMatchObject({ ok: true, data: { keys: ['b'] } });
    expect(
      await handle({
        operation: 'update',
        path: 'secret/data/a',
        token: 't-root',
        data: { data: {}, options: { cas: 5 } },
      }),
    ).toMatchObject({ ok: false, code: CoreErrorCode.casMismatch });
    expect(
      await handle({ operation: 'read', path: 'secret/data/nope', token: 't-root' }),
    ).toMatchObject({ ok: false, code: CoreErrorCode.notFound });
    expect(
      await handle({
        operation: 'update',
        path: 'secret/data/a',
        token: 't-root',
        data: { data: 'x' },
      }),
    ).toMatchObject({ ok: false, code: CoreErrorCode.invalidRequest });
  });
});
