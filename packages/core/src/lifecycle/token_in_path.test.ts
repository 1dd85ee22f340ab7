/**
 * Goal: a token id a caller puts in a request path (Vault's old `auth/token/lookup/<token>`
 * habit, or by mistake) never comes back in an error and never reaches the audit file in
 * clear: the error says `cfr.<redacted>`, and the audit lines hold the token's audit hash in
 * the path, so an investigator finds it with sys/audit-hash as any other hashed value.
 * Method: single-voter CofferNode on real LevelDB with a real audit file
 * (request_test_support.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { closeOpenedNodes, removeRoot } from './lifecycle_harness.ts';
import { openRequestFixture, type RequestFixture } from './request_test_support.ts';

let f: RequestFixture;
let auditPath = '';

beforeAll(async () => {
  f = await openRequestFixture();
  auditPath = join(f.harness.root, 'audit.log');
  await f.ok({
    operation: 'update',
    path: 'sys/audit/file',
    token: f.rootToken,
    data: { type: 'file', options: { file_path: auditPath } },
  });
});

afterAll(async () => {
  await closeOpenedNodes();
  await removeRoot(f.harness.root);
});

describe('a token id in a request path', () => {
  it('is redacted from the error and hashed in the audit lines', async () => {
    const created = await f.ok({
      operation: 'update',
      path: 'auth/token/create',
      token: f.rootToken,
      data: { policies: ['default'] },
    });
    const token = created.auth?.clientToken ?? '';
    expect(token).toMatch(/^cfr\./);
    const paths = [
      // NB: a long prefix puts the token across the 64-character cut of a quoted path.
      `secret/data/team-payments/prod/service-accounts/${token}`,
      `secret/data/team-payments/prod/service-accounts/x/${token}`,
      `secret//team-payments/prod/service-accounts/abcdefghijkl/${token}`,
      `auth/token/lookup/${token}`,
      `auth/token/revoke/${token}`,
      `sys/leases/lookup/${token}`,
      `secret/data/${token}/x`,
    ];
    for (const path of paths) {
      for (const operation of ['read', 'update'] as const) {
        const answer = await f.call({ operation, path, token: f.rootToken });
        expect(answer.ok, path).toBe(false);
        // Not even a part of it: the 12 characters after the prefix are already secret.
        expect(answer.ok ? '' : answer.message, path).not.toContain(token.slice(0, 16));
      }
    }
    const denied = await f.call({ operation: 'read', path: `cubbyhole/${token}`, token });
    expect(denied.ok ? '' : denied.message).not.toContain(token);

    const audit = await readFile(auditPath, 'utf8');
    expect(audit).not.toContain(token.slice(0, 16));
    const hashed = await f.ok({
      operation: 'update',
      path: 'sys/audit-hash/file',
      token: f.rootToken,
      data: { input: token },
    });
    const hash = String(hashed.data?.['hash']);
    expect(audit).toContain(`"path":"auth/token/lookup/${hash}"`);
    expect(audit).toContain(`"path":"secret/data/${hash}/x"`);
  });

  it('keeps a path without a token id as it was, errors included', async () => {
    const answer = await f.call({
      operation: 'read',
      path: 'auth/token/lookup/cfr.short',
      token: f.rootToken,
    });
    expect(answer).toMatchObject({ ok: false, code: CoreErrorCode.notFound });
    expect(answer.ok ? '' : answer.message).toContain('cfr.short');
  });
});
