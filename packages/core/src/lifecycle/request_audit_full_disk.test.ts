/**
 * Goal: audit fails closed on a real full disk: with the only audit device on a full tmpfs
 * (ENOSPC), KV reads through the node fail, once the file's last page is used, with COFFER_CORE_AUDIT_UNAVAILABLE and returns no
 * value; once space is freed, the same read is served and audited.
 * Method: a 256 KiB tmpfs mounted by the test (needs root; skipped otherwise, as in
 * audit_broker.test.ts), filled with a filler file; a single-voter node on LevelDB elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { verifyAuditFile } from '../audit/verify_audit_file.ts';
import { CoreErrorCode } from '../errors.ts';
import { closeOpenedNodes, removeRoot } from './lifecycle_harness.ts';
import { openRequestFixture, type RequestFixture } from './request_test_support.ts';

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('audit on a full tmpfs (needs root to mount; skipped otherwise)', () => {
  let f: RequestFixture;
  let mountDir: string;

  beforeAll(async () => {
    mountDir = await mkdtemp(join(tmpdir(), 'coffer-node-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountDir]);
    f = await openRequestFixture();
  });

  afterAll(async () => {
    await closeOpenedNodes();
    execFileSync('umount', [mountDir]);
    await rm(mountDir, { recursive: true, force: true });
    await removeRoot(f.harness.root);
  });

  it('refuses a KV read with no value while the audit disk is full, and serves it after', async () => {
    const value = `full-disk-canary-${process.pid}`;
    await f.ok({
      operation: 'update',
      path: 'sys/mounts/secret',
      token: f.rootToken,
      data: { type: 'kv' },
    });
    await f.ok({
      operation: 'update',
      path: 'secret/data/app',
      token: f.rootToken,
      data: { data: { value } },
    });
    const auditPath = join(mountDir, 'audit.log');
    await f.ok({
      operation: 'update',
      path: 'sys/audit/disk',
      token: f.rootToken,
      data: { type: 'file', options: { file_path: auditPath } },
    });
    const filler = join(mountDir, 'filler');
    try {
      await writeFile(filler, Buffer.alloc(512 * 1024));
    } catch (error) {
      expect((error as { code?: string }).code).toBe('ENOSPC');
    }
    // NB: tmpfs allocates whole pages: the audit file's last page may still take a few lines.
    let refused = await f.call({ operation: 'read', path: 'secret/data/app', token: f.rootToken });
    for (let i = 0; i < 32 && refused.ok; i++) {
      refused = await f.call({ operation: 'read', path: 'secret/data/app', token: f.rootToken });
    }
    expect(refused).toMatchObject({ ok: false, code: CoreErrorCode.auditUnavailable });
    expect(JSON.stringify(refused)).not.toContain(value);
    await rm(filler);
    const served = await f.call({ operation: 'read', path: 'secret/data/app', token: f.rootToken });
    expect(served).toMatchObject({ ok: true, data: { data: { value } } });
    const audit = await readFile(auditPath, 'utf8');
    expect(audit).not.toContain(value);
    expect(audit).toContain('secret/data/app');
    // NB: a batch that failed half-written was cut back, so the chain still verifies.
    expect(await verifyAuditFile(auditPath)).toMatchObject({ ok: true });
  });
});
