/**
 * Goal: the broker writes each request and response to every device with every secret hashed
 * (a canary scan of the file bytes finds no canary, only hmac-sha256 values that auditHash
 * reproduces), fails closed (ENOSPC on a real full tmpfs, injected EIO: AUDIT_UNAVAILABLE),
 * stays up while one of two devices fails (counted and logged without secrets), resolves at once
 * with no device, and never shows a salt.
 * Method: real files in a mkdtemp directory (a 64 KiB tmpfs for ENOSPC, mounted as root in the
 * test); FaultyFiles injects EIO; a ManualClock stamps lines.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { ManualClock } from '@coffer/raft/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { MemoryStorageView } from '../router/memory_storage_view.ts';
import { jsonBytes } from '../router/storage_view.ts';
import { AuditBroker, auditDevicesPrefix, type AuditLogger } from './audit_broker.ts';
import type { AuditDeviceRecord } from './audit_device_config.ts';
import { auditHash, newAuditSalt } from './audit_hash.ts';
import { FaultyFiles, sampleEntry } from './audit_test_support.ts';
import { FileAuditDevice } from './file_audit_device.ts';
import { verifyAuditFile } from './verify_audit_file.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-audit-broker-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function record(filePath: string, extra: Record<string, string> = {}): AuditDeviceRecord {
  return {
    type: 'file',
    description: 'test device',
    options: { file_path: filePath, ...extra },
    salt: Buffer.from(newAuditSalt()).toString('hex'),
  };
}

class RecordingLogger implements AuditLogger {
  readonly lines: { fields: Readonly<Record<string, string | number>>; message: string }[] = [];
  warn(fields: Readonly<Record<string, string | number>>, message: string): void {
    this.lines.push({ fields, message });
  }
}

const canary = {
  token: 'cof.CANARY-client-token-7f3a',
  accessor: 'CANARY-accessor-19be',
  secretId: 'CANARY-secret-id-5d21',
  password: 'CANARY-password-a0c4',
  nested: 'CANARY-nested-8e77',
  metadata: 'CANARY-metadata-3b90',
  issued: 'cof.CANARY-issued-token-c6d2',
  issuedAccessor: 'CANARY-issued-accessor-04f1',
  wrap: 'cof.CANARY-wrap-token-91aa',
  wrapAccessor: 'CANARY-wrap-accessor-77e0',
};

function requestInput() {
  return {
    requestId: 'req-1',
    operation: 'update',
    path: 'auth/approle/login',
    data: { role_id: 'role-1', secret_id: canary.secretId, nested: [{ deep: canary.nested }, 7] },
    clientToken: canary.token,
    clientTokenAccessor: canary.accessor,
    remoteAddress: '127.0.0.1',
    mountType: 'approle',
    mountAccessor: 'auth_approle_1234',
    policyAllowed: true,
    auth: {
      clientToken: canary.token,
      accessor: canary.accessor,
      policies: ['default'],
      tokenTtlSeconds: 3600,
      displayName: 'approle',
      metadata: { role_name: canary.metadata },
    },
  };
}

describe('AuditBroker', () => {
  it('AuditBroker writes no canary: every secret is an hmac-sha256 that auditHash reproduces', async () => {
    const clock = new ManualClock();
    const broker = new AuditBroker({ clock });
    const path = join(dir, 'audit.log');
    const stored = record(path);
    const salt = Buffer.from(stored.salt, 'hex');
    await broker.enable('file', stored);
    await broker.logRequest(requestInput());
    await broker.logResponse({
      ...requestInput(),
      response: {
        data: { password: canary.password, ttl: 60, enabled: true },
        leaseId: 'secret/creds/abc',
        auth: {
          clientToken: canary.issued,
          accessor: canary.issuedAccessor,
          policies: ['app'],
          metadata: { role_name: canary.metadata },
        },
        wrapInfo: { token: canary.wrap, accessor: canary.wrapAccessor, ttlSeconds: 300 },
        warnings: ['a warning'],
      },
    });
    const text = await readFile(path, 'utf8');
    for (const value of Object.values(canary)) {
      expect(text).not.toContain(value);
      expect(text).toContain(auditHash(salt, value));
      expect(text).toContain(broker.hash('file', value));
    }
    expect(text).not.toContain('CANARY');
    await broker.close();
    const [request, response] = text
      .split('\n')
      .map((line): unknown => (line ? JSON.parse(line) : null)) as [
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    expect(request).toMatchObject({
      type: 'request',
      time: '1970-01-01T00:00:00.000Z',
      request: { path: 'auth/approle/login', mount_type: 'approle', remote_address: '127.0.0.1' },
      auth: { policies: ['default'], token_ttl: 3600, display_name: 'approle' },
    });
    expect(response).toMatchObject({
      type: 'response',
      response: { data: { ttl: 60, enabled: true }, secret: { lease_id: 'secret/creds/abc' } },
    });
    const hashed = /^hmac-sha256:[0-9a-f]{64}$/;
    for (const data of [dig(request, 'request', 'data'), dig(response, 'response', 'data')]) {
      for (const leaf of stringLeaves(data)) {
        expect(leaf).toMatch(hashed);
      }
    }
    expect(await verifyAuditFile(path)).toMatchObject({ ok: true, lines: 2 });
  });

  it('AuditBroker.hash matches the HMAC values in the file', async () => {
    const broker = new AuditBroker({ clock: new ManualClock() });
    const path = join(dir, 'audit.log');
    await broker.enable('file', record(path));
    await broker.logRequest(requestInput());
    const expected = broker.hash('file', canary.secretId);
    expect(expected).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(await readFile(path, 'utf8')).toContain(expected);
    expect(() => broker.hash('absent', 'x')).toThrow(
      expect.objectContaining({ code: CoreErrorCode.notFound }),
    );
    await broker.close();
  });

  it('AuditBroker keeps accessors in clear with hmac_accessor=false', async () => {
    const broker = new AuditBroker({ clock: new ManualClock() });
    const path = join(dir, 'audit.log');
    await broker.enable('file', record(path, { hmac_accessor: 'false' }));
    await broker.logRequest(requestInput());
    await broker.close();
    const text = await readFile(path, 'utf8');
    expect(text).toContain(canary.accessor);
    expect(text).not.toContain(canary.token);
  });

  it('AuditBroker resolves at once with no device enabled', async () => {
    const broker = new AuditBroker({ clock: new ManualClock() });
    await broker.logRequest(requestInput());
    await broker.logResponse({ ...requestInput(), error: 'COFFER_CORE_PERMISSION_DENIED' });
  });

  it('AuditBroker rejects with AUDIT_UNAVAILABLE on an injected EIO', async () => {
    const files = new FaultyFiles();
    const logger = new RecordingLogger();
    const broker = new AuditBroker({ clock: new ManualClock(), openFile: files.open, logger });
    const path = join(dir, 'audit.log');
    await broker.enable('file', record(path));
    files.writeFault = 'EIO';
    const failure = await broker.logRequest(requestInput()).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: CoreErrorCode.auditUnavailable });
    expect(String(failure)).not.toContain('CANARY');
    expect(broker.failureCounts().get('file')).toBe(1);
    expect(logger.lines).toEqual([
      {
        fields: { device: 'file', path, errorCode: 'EIO' },
        message: 'Audit device failed to record a line',
      },
    ]);
    expect(JSON.stringify(logger.lines)).not.toContain('CANARY');
    await broker.close();
  });

  it('AuditBroker says which line it could not record: the request (not served) or the response (withheld)', async () => {
    const files = new FaultyFiles();
    const broker = new AuditBroker({ clock: new ManualClock(), openFile: files.open });
    await broker.enable('file', record(join(dir, 'audit-which.log')));
    files.writeFault = 'EIO';
    const request = await broker.logRequest(requestInput()).catch((error: unknown) => error);
    expect(String(request)).toMatch(/record the request, so it was not served/);
    const response = await broker
      .logResponse({ ...requestInput(), response: {} })
      .catch((error: unknown) => error);
    expect(response).toMatchObject({ code: CoreErrorCode.auditUnavailable });
    expect(String(response)).toMatch(/record the response, so it was withheld/);
    await broker.close();
  });

  it('AuditBroker resolves when one of two devices fails, and the healthy file has the line', async () => {
    const failing = new FaultyFiles();
    const healthyPath = join(dir, 'healthy.log');
    const failingPath = join(dir, 'failing.log');
    const logger = new RecordingLogger();
    const broker = new AuditBroker({
      clock: new ManualClock(),
      logger,
      openFile: (path) =>
        path === failingPath ? failing.open(path) : new FaultyFiles().open(path),
    });
    await broker.enable('healthy', record(healthyPath));
    await broker.enable('failing', record(failingPath));
    failing.writeFault = 'EIO';
    await broker.logRequest(requestInput());
    await broker.close();
    expect(await readFile(healthyPath, 'utf8')).toContain('"id":"req-1"');
    expect(await readFile(failingPath, 'utf8')).toBe('');
    expect(broker.failureCounts().get('failing')).toBe(1);
    expect(logger.lines[0]?.fields).toMatchObject({ device: 'failing', errorCode: 'EIO' });
  });

  it('AuditBroker.list shows devices without their salt; inspect shows no salt', async () => {
    const broker = new AuditBroker({ clock: new ManualClock() });
    const path = join(dir, 'audit.log');
    const stored = record(path, { fsync: 'none' });
    await broker.enable('file', stored);
    expect(broker.list()).toEqual([
      { name: 'file', type: 'file', description: 'test device', path, options: stored.options },
    ]);
    expect(JSON.stringify(broker.list())).not.toContain(stored.salt);
    expect(inspect(broker, { depth: 10 })).not.toContain(stored.salt);
    expect(JSON.stringify(broker)).not.toContain(stored.salt);
    await broker.close();
  });

  it('AuditBroker.enable refuses a taken name, a taken file and bad options', async () => {
    const broker = new AuditBroker({ clock: new ManualClock() });
    const path = join(dir, 'audit.log');
    await broker.enable('file', record(path));
    const conflict = { code: CoreErrorCode.mountConflict };
    await expect(broker.enable('file', record(join(dir, 'b.log')))).rejects.toMatchObject(conflict);
    await expect(broker.enable('other', record(path))).rejects.toMatchObject(conflict);
    const invalid = { code: CoreErrorCode.invalidRequest };
    for (const options of [
      { file_path: 'relative.log' },
      { file_path: join(dir, 'c.log'), log_raw: 'true' },
      { file_path: join(dir, 'c.log'), fsync: 'always' },
      { file_path: join(dir, 'c.log'), format: 'jsonx' },
    ]) {
      await expect(broker.enable('c', { ...record(''), options })).rejects.toMatchObject(invalid);
    }
    await expect(broker.enable('bad/name', record(join(dir, 'd.log')))).rejects.toMatchObject(
      invalid,
    );
    await broker.close();
  });

  it('AuditBroker.loadFrom reopens stored devices and continues their chains', async () => {
    const storage = new MemoryStorageView();
    const path = join(dir, 'audit.log');
    const stored = record(path);
    await storage.write({
      operations: [{ kind: 'put', key: `${auditDevicesPrefix}file`, value: jsonBytes(stored) }],
    });
    const first = new AuditBroker({ clock: new ManualClock() });
    await first.loadFrom(storage);
    await first.logRequest(requestInput());
    await first.close();
    const second = new AuditBroker({ clock: new ManualClock() });
    await second.loadFrom(storage);
    await second.loadFrom(storage);
    expect(second.list().map((device) => device.name)).toEqual(['file']);
    await second.logRequest(requestInput());
    await second.close();
    expect(await verifyAuditFile(path)).toMatchObject({ ok: true, lines: 2 });
  });

  it('AuditBroker.loadFrom rejects with AUDIT_UNAVAILABLE when a stored device cannot open', async () => {
    const storage = new MemoryStorageView();
    const stored = record(join(dir, 'missing', 'audit.log'));
    await storage.write({
      operations: [{ kind: 'put', key: `${auditDevicesPrefix}file`, value: jsonBytes(stored) }],
    });
    const broker = new AuditBroker({ clock: new ManualClock() });
    await expect(broker.loadFrom(storage)).rejects.toMatchObject({
      code: CoreErrorCode.auditUnavailable,
    });
  });

  it('AuditBroker.reopen continues each chain across rotation', async () => {
    const broker = new AuditBroker({ clock: new ManualClock() });
    const path = join(dir, 'audit.log');
    await broker.enable('file', record(path));
    await broker.logRequest(requestInput());
    const { rename } = await import('node:fs/promises');
    await rename(path, `${path}.1`);
    await broker.reopen();
    await broker.logRequest(requestInput());
    await broker.close();
    const old = await verifyAuditFile(`${path}.1`);
    expect(old.ok).toBe(true);
    expect(await verifyAuditFile(path, { previousHash: old.ok ? old.lastHash : '' })).toMatchObject(
      { ok: true, lines: 1 },
    );
  });
});

function dig(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) {
    current = (current as Record<string, unknown> | undefined)?.[key];
  }
  return current;
}

function stringLeaves(value: unknown): string[] {
  if (typeof value === 'string') {
    return [value];
  }
  if (typeof value === 'object' && value !== null) {
    return Object.values(value).flatMap(stringLeaves);
  }
  return [];
}

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)(
  'AuditBroker on a full tmpfs (needs root to mount; skipped otherwise)',
  () => {
    let mountDir: string;

    beforeAll(async () => {
      mountDir = await mkdtemp(join(tmpdir(), 'coffer-audit-tmpfs-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountDir]);
    });

    afterAll(async () => {
      execFileSync('umount', [mountDir]);
      await rm(mountDir, { recursive: true, force: true });
    });

    it('AuditBroker rejects with AUDIT_UNAVAILABLE when the device hits ENOSPC', async () => {
      const logger = new RecordingLogger();
      const broker = new AuditBroker({ clock: new ManualClock(), logger });
      const path = join(mountDir, 'audit.log');
      await broker.enable('file', record(path));
      await broker.logRequest(requestInput());
      const direct = await FileAuditDevice.open({
        path: join(mountDir, 'direct.log'),
        genesisHash: 'a'.repeat(64),
      });
      const filler = join(mountDir, 'filler');
      const chunk = Buffer.alloc(4096, 0x61);
      const full = await (async () => {
        for (let index = 0; index < 64; index += 1) {
          const error = await writeFile(filler, chunk, { flag: 'a' }).catch((e: unknown) => e);
          if (error !== undefined) {
            return error;
          }
        }
        return undefined;
      })();
      expect(full).toMatchObject({ code: 'ENOSPC' });
      // Strings hash to 76 bytes, so numbers (kept in clear) make the line big.
      const big = { ...requestInput(), data: { blob: new Array<number>(8192).fill(1) } };
      try {
        await expect(direct.log(sampleEntry(0))).rejects.toMatchObject({
          code: CoreErrorCode.auditUnavailable,
          message: expect.stringContaining('ENOSPC') as unknown,
        });
        const failure = await broker.logRequest(big).catch((error: unknown) => error);
        expect(failure).toMatchObject({ code: CoreErrorCode.auditUnavailable });
        expect(logger.lines.at(-1)?.fields).toMatchObject({ device: 'file', errorCode: 'ENOSPC' });
        await rm(filler);
        await broker.logRequest(requestInput());
      } finally {
        await broker.close();
        await direct.close();
      }
      expect(await verifyAuditFile(path)).toMatchObject({ ok: true, lines: 2 });
      expect(await readFile(join(mountDir, 'direct.log'), 'utf8')).toBe('');
    });
  },
);
