/**
 * Goal: a real SIGHUP makes the node reopen its audit file after logrotate moved it away; new
 * lines go to the new file, and the two files verify as one chain.
 * Method: a single-voter node with a file audit device in its temporary directory; the file is
 * renamed, this process sends itself SIGHUP (the handler is installed, so it does not exit),
 * and requests continue.
 */
import { rename } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { verifyAuditFile } from '../audit/verify_audit_file.ts';
import { reopenAuditFilesOnSignal } from './audit_rotation.ts';
import { closeOpenedNodes, drive, removeRoot } from './lifecycle_harness.ts';
import { openRequestFixture, type RequestFixture } from './request_test_support.ts';

let f: RequestFixture;

beforeAll(async () => {
  f = await openRequestFixture();
});

afterAll(async () => {
  await closeOpenedNodes();
  await removeRoot(f.harness.root);
});

describe('reopenAuditFilesOnSignal', () => {
  it('reopens the audit file on SIGHUP and the chain continues into the new file', async () => {
    const path = join(f.harness.root, 'audit.log');
    await f.ok({
      operation: 'update',
      path: 'sys/audit/file',
      token: f.rootToken,
      data: { type: 'file', options: { file_path: path } },
    });
    await f.ok({ operation: 'read', path: 'sys/mounts', token: f.rootToken });
    await rename(path, `${path}.1`);
    const state = { reopened: false };
    const uninstall = reopenAuditFilesOnSignal(
      {
        reopenAuditFiles: async () => {
          await f.node.reopenAuditFiles();
          state.reopened = true;
        },
      },
      {},
    );
    try {
      process.kill(process.pid, 'SIGHUP');
      await drive(
        f.harness,
        (async () => {
          while (!state.reopened) {
            await new Promise((resolve) => setImmediate(resolve));
          }
        })(),
      );
    } finally {
      uninstall();
    }
    await f.ok({ operation: 'read', path: 'sys/mounts', token: f.rootToken });
    const old = await verifyAuditFile(`${path}.1`);
    expect(old).toMatchObject({ ok: true });
    const current = await verifyAuditFile(path, old.ok ? { previousHash: old.lastHash } : {});
    expect(current).toMatchObject({ ok: true });
    expect(current.ok && current.lines).toBeGreaterThanOrEqual(2);
  });
});
