/**
 * Goal: the sys/ audit routes enable a file device (stored with its salt in the replicated view,
 * only once its file opened), list devices without salts, hash inputs as the file does, disable
 * devices, refuse bad and duplicate requests, and mark the management routes sudo.
 * Method: handlers called directly with a MemoryStorageView; real files in a mkdtemp directory.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ManualClock } from '@coffer/raft/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import type { BackendRequest, Route } from '../router/backend.ts';
import { MemoryStorageView } from '../router/memory_storage_view.ts';
import type { Operation } from '../router/request.ts';
import { getJson } from '../router/storage_view.ts';
import { createAuditBackend } from './audit_backend.ts';
import { AuditBroker, auditDevicesPrefix } from './audit_broker.ts';
import type { AuditDeviceRecord } from './audit_device_config.ts';
import { auditHash } from './audit_hash.ts';

let dir: string;
let broker: AuditBroker;
let storage: MemoryStorageView;
let routes: readonly Route[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-audit-backend-'));
  broker = new AuditBroker({ clock: new ManualClock() });
  storage = new MemoryStorageView();
  routes = createAuditBackend(broker).routes;
});

afterEach(async () => {
  await broker.close();
  await rm(dir, { recursive: true, force: true });
});

async function call(
  operation: Operation,
  path: string,
  fields: Readonly<Record<string, unknown>> = {},
) {
  const [pattern, name] = path.startsWith('audit-hash/')
    ? ['audit-hash/:name', path.slice('audit-hash/'.length)]
    : path === 'audit'
      ? ['audit', undefined]
      : ['audit/:name', path.slice('audit/'.length)];
  const route = routes.find((candidate) => candidate.pattern === pattern);
  const handler = route?.operations[operation];
  if (handler === undefined) {
    throw new Error(`no handler for ${operation} ${path}`);
  }
  const request: BackendRequest = {
    operation,
    path,
    params: name === undefined ? {} : { name },
    fields,
    data: fields,
    storage,
    mount: {
      path: 'sys/',
      type: 'system',
      uuid: 'sys-uuid',
      accessor: 'system_1',
      defaultLeaseTtlSeconds: 3600,
      maxLeaseTtlSeconds: 86400,
      options: {},
    },
    caller: undefined,
    clientAddress: '127.0.0.1',
    requestId: 'req-1',
    nowMs: 0,
  };
  return handler(request);
}

describe('audit backend', () => {
  it('audit routes mark listing and enabling sudo, and hashing not', () => {
    const sudo = Object.fromEntries(routes.map((route) => [route.pattern, route.sudo === true]));
    expect(sudo).toEqual({ audit: true, 'audit/:name': true, 'audit-hash/:name': false });
  });

  it('audit/:name enables a device, stores its salt, and audit lists it without the salt', async () => {
    const path = join(dir, 'audit.log');
    await call('update', 'audit/file', {
      type: 'file',
      description: 'main log',
      options: { file_path: path },
    });
    const stored = await getJson<AuditDeviceRecord>(storage, `${auditDevicesPrefix}file`);
    expect(stored?.salt).toMatch(/^[0-9a-f]{64}$/);
    const listed = await call('read', 'audit');
    expect(listed.data).toEqual({
      'file/': {
        type: 'file',
        description: 'main log',
        options: { file_path: path },
        path: 'file/',
      },
    });
    expect(JSON.stringify(listed)).not.toContain(stored?.salt ?? 'none');
    await broker.logRequest({
      requestId: 'r',
      operation: 'update',
      path: 'secret/data/x',
      data: { password: 'hunter2-canary' },
    });
    const hashed = await call('update', 'audit-hash/file', { input: 'hunter2-canary' });
    const expected = auditHash(Buffer.from(stored?.salt ?? '', 'hex'), 'hunter2-canary');
    expect(hashed.data).toEqual({ hash: expected });
    expect(await readFile(path, 'utf8')).toContain(expected);
  });

  it('audit/:name refuses a second device of the same name, and stores nothing on failure', async () => {
    const options = { file_path: join(dir, 'a.log') };
    await call('update', 'audit/file', { type: 'file', options });
    await expect(
      call('update', 'audit/file', { type: 'file', options: { file_path: join(dir, 'b.log') } }),
    ).rejects.toMatchObject({ code: CoreErrorCode.mountConflict });
    await expect(
      call('update', 'audit/other', {
        type: 'file',
        options: { file_path: join(dir, 'missing', 'c.log') },
      }),
    ).rejects.toMatchObject({ code: CoreErrorCode.auditUnavailable });
    expect(await storage.get(`${auditDevicesPrefix}other`)).toBeUndefined();
    await expect(
      call('update', 'audit/sock', { type: 'socket', options: {} }),
    ).rejects.toMatchObject({ code: CoreErrorCode.invalidRequest });
    await expect(
      call('update', 'audit/raw', {
        type: 'file',
        options: { file_path: join(dir, 'raw.log'), log_raw: 'true' },
      }),
    ).rejects.toMatchObject({ code: CoreErrorCode.invalidRequest });
  });

  it('audit/:name delete disables the device and forgets its record', async () => {
    await call('update', 'audit/file', {
      type: 'file',
      options: { file_path: join(dir, 'a.log') },
    });
    await call('delete', 'audit/file');
    expect(await storage.get(`${auditDevicesPrefix}file`)).toBeUndefined();
    expect(broker.list()).toEqual([]);
    await expect(call('update', 'audit-hash/file', { input: 'x' })).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
    await call('delete', 'audit/file');
  });

  it('a stored table reopens in a new broker (unseal or restart)', async () => {
    await call('update', 'audit/file', {
      type: 'file',
      options: { file_path: join(dir, 'a.log') },
    });
    const hashBefore = broker.hash('file', 'value');
    const restarted = new AuditBroker({ clock: new ManualClock() });
    await restarted.loadFrom(storage);
    expect(restarted.hash('file', 'value')).toBe(hashBefore);
    await restarted.close();
  });
});
