/**
 * Goal: the file device creates its file with mode 0600, chains every line from the genesis or
 * from the file's last line, writes concurrent calls in few batched writes (one sync each),
 * resolves each call only once its line is written, rejects a whole batch on EIO (or a failed
 * sync, or a short write) and leaves the file whole, and continues the chain across a reopen
 * after rotation.
 * Method: real files in a mkdtemp directory; a FaultyFiles opener counts, gates and fails writes;
 * verifyAuditFile checks every file the device wrote.
 */
import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { auditChainGenesis, newAuditSalt } from './audit_hash.ts';
import { FaultyFiles, sampleEntry } from './audit_test_support.ts';
import { auditLineText, FileAuditDevice } from './file_audit_device.ts';
import { verifyAuditFile } from './verify_audit_file.ts';

let dir: string;
let path: string;
const genesis = auditChainGenesis(newAuditSalt());

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-audit-device-'));
  path = join(dir, 'audit.log');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function logMany(device: FileAuditDevice, count: number, first = 0): Promise<void>[] {
  return Array.from({ length: count }, (_, index) => device.log(sampleEntry(first + index)));
}

/**
 * Lets queued I/O callbacks and microtasks run until done() holds (at most 100,000 turns).
 * NB: the files are real, so a write or sync waits on the disk and the thread pool; 1,000 turns
 * (about 20 ms) were too few on a loaded CI machine.
 */
async function turnsUntil(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 100_000 && !done(); turn++) {
    await new Promise<void>((resolve) => {
      setImmediate(resolve);
    });
  }
  expect(done()).toBe(true);
}

/** A gate and the function that opens it. */
function newGate(): { gate: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { gate, open };
}

/** Tracks whether a promise settled yet. */
function track(promise: Promise<void>): { settled: () => boolean; done: Promise<unknown> } {
  let settled = false;
  const done = promise.then(
    () => {
      settled = true;
    },
    (error: unknown) => {
      settled = true;
      return error;
    },
  );
  return { settled: () => settled, done };
}

describe('FileAuditDevice', () => {
  it('FileAuditDevice.open creates the file with mode 0600 and chains from the genesis', async () => {
    const device = await FileAuditDevice.open({ path, genesisHash: genesis });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(device.lastHash).toBe(genesis);
    await device.log(sampleEntry(0));
    await device.log(sampleEntry(1));
    await device.close();
    const first = JSON.parse((await readFile(path, 'utf8')).split('\n')[0] ?? '') as {
      prev: string;
      request: { id: string };
    };
    expect(first.prev).toBe(genesis);
    expect(first.request.id).toBe('request-0');
    expect(await verifyAuditFile(path, { previousHash: genesis })).toMatchObject({
      ok: true,
      lines: 2,
      lastHash: device.lastHash,
    });
  });

  it('FileAuditDevice.log writes 100 concurrent calls with one write and one sync', async () => {
    const files = new FaultyFiles();
    const device = await FileAuditDevice.open({ path, genesisHash: genesis, openFile: files.open });
    await Promise.all(logMany(device, 100));
    expect(files.writes).toBe(1);
    expect(files.syncs).toBe(1);
    expect(await verifyAuditFile(path, { previousHash: genesis })).toMatchObject({ lines: 100 });
    await device.close();
  });

  it('FileAuditDevice.log batches calls that arrive while a write is in flight', async () => {
    const files = new FaultyFiles();
    const device = await FileAuditDevice.open({ path, genesisHash: genesis, openFile: files.open });
    let release = (): void => undefined;
    files.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let firstDone = false;
    const first = device.log(sampleEntry(0)).then(() => {
      firstDone = true;
    });
    await Promise.resolve();
    const rest = logMany(device, 99, 1);
    await new Promise<void>((resolve) => {
      setImmediate(resolve);
    });
    expect(firstDone).toBe(false);
    release();
    await Promise.all([first, ...rest]);
    expect(files.writes).toBe(2);
    expect(await verifyAuditFile(path, { previousHash: genesis })).toMatchObject({ lines: 100 });
    await device.close();
  });

  it('FileAuditDevice.log writes the next batch while a sync runs, resolving each after its own sync', async () => {
    const files = new FaultyFiles();
    const device = await FileAuditDevice.open({ path, genesisHash: genesis, openFile: files.open });
    const sync = newGate();
    files.syncGate = sync.gate;
    const first = track(device.log(sampleEntry(0)));
    await turnsUntil(() => files.syncs === 1);
    const rest = logMany(device, 9, 1).map(track);
    // The second batch is written and its sync started while the first sync still runs.
    await turnsUntil(() => files.writes === 2 && files.syncs === 2);
    expect(first.settled()).toBe(false);
    expect(rest.some((call) => call.settled())).toBe(false);
    sync.open();
    expect(await Promise.all([first.done, ...rest.map((call) => call.done)])).toEqual(
      Array.from({ length: 10 }, () => undefined),
    );
    expect(await verifyAuditFile(path, { previousHash: genesis })).toMatchObject({
      ok: true,
      lines: 10,
      lastHash: device.lastHash,
    });
    await device.close();
  });

  it('FileAuditDevice.log rejects and cuts the batch written after a batch whose sync failed', async () => {
    const files = new FaultyFiles();
    const device = await FileAuditDevice.open({ path, genesisHash: genesis, openFile: files.open });
    await device.log(sampleEntry(0));
    const before = device.lastHash;
    const sizeBefore = (await stat(path)).size;
    const sync = newGate();
    files.syncGate = sync.gate;
    files.syncFault = 'EIO';
    const first = device.log(sampleEntry(1));
    await turnsUntil(() => files.syncs === 2);
    const rest = logMany(device, 3, 2);
    await turnsUntil(() => files.writes === 3);
    sync.open();
    const outcomes = await Promise.allSettled([first, ...rest]);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({
        status: 'rejected',
        reason: { code: CoreErrorCode.auditUnavailable, message: /EIO/ },
      });
    }
    expect((await stat(path)).size).toBe(sizeBefore);
    expect(device.lastHash).toBe(before);
    files.syncGate = undefined;
    files.syncFault = undefined;
    await device.log(sampleEntry(5));
    expect(await verifyAuditFile(path, { previousHash: genesis })).toMatchObject({
      ok: true,
      lines: 2,
      lastHash: device.lastHash,
    });
    await device.close();
  });

  it('FileAuditDevice.log resolves the synced batch when the batch written after it fails', async () => {
    const files = new FaultyFiles();
    const device = await FileAuditDevice.open({ path, genesisHash: genesis, openFile: files.open });
    const sync = newGate();
    files.syncGate = sync.gate;
    const first = track(device.log(sampleEntry(0)));
    await turnsUntil(() => files.syncs === 1);
    files.writeFault = 'EIO';
    const rest = Promise.allSettled(logMany(device, 3, 1));
    await turnsUntil(() => files.writes === 2);
    sync.open();
    expect(await first.done).toBeUndefined();
    for (const outcome of await rest) {
      expect(outcome).toMatchObject({
        status: 'rejected',
        reason: { code: CoreErrorCode.auditUnavailable },
      });
    }
    files.writeFault = undefined;
    await device.log(sampleEntry(4));
    expect(await verifyAuditFile(path, { previousHash: genesis })).toMatchObject({
      ok: true,
      lines: 2,
      lastHash: device.lastHash,
    });
    await device.close();
  });

  it('FileAuditDevice.log rejects an entry JSON cannot encode and leaves no debris line', async () => {
    const device = await FileAuditDevice.open({ path, genesisHash: genesis });
    await device.log(sampleEntry(0));
    const unencodable = { ...sampleEntry(1), request: { ...sampleEntry(1).request, data: 1n } };
    await expect(device.log(unencodable)).rejects.toMatchObject({
      code: CoreErrorCode.auditUnavailable,
    });
    await device.log(sampleEntry(2));
    await device.close();
    expect(await verifyAuditFile(path, { previousHash: genesis })).toMatchObject({
      ok: true,
      lines: 2,
    });
  });

  it('FileAuditDevice.close waits for the sync in flight before closing', async () => {
    const files = new FaultyFiles();
    const device = await FileAuditDevice.open({ path, genesisHash: genesis, openFile: files.open });
    const sync = newGate();
    files.syncGate = sync.gate;
    const line = track(device.log(sampleEntry(0)));
    await turnsUntil(() => files.syncs === 1);
    const closed = track(device.close());
    await turnsUntil(() => files.syncs === 1 && !closed.settled());
    expect(line.settled()).toBe(false);
    sync.open();
    expect(await line.done).toBeUndefined();
    expect(await closed.done).toBeUndefined();
    expect(await verifyAuditFile(path, { previousHash: genesis })).toMatchObject({ lines: 1 });
  });

  it('auditLineText equals JSON.stringify of the entry with prev added last', () => {
    const entries = [
      sampleEntry(0),
      {
        ...sampleEntry(1),
        type: 'response' as const,
        auth: { policies: ['a'], metadata: { k: 'v' }, token_ttl: undefined },
        response: { data: { s: 'caf\u00e9 \u{1F600} "q"\n', n: [1, null, true] } },
        error: undefined,
      },
    ];
    for (const entry of entries) {
      expect(auditLineText(entry, 'ab'.repeat(32))).toBe(
        JSON.stringify({ ...entry, prev: 'ab'.repeat(32) }),
      );
    }
  });

  it('FileAuditDevice.log with fsync none never syncs', async () => {
    const files = new FaultyFiles();
    const device = await FileAuditDevice.open({
      path,
      genesisHash: genesis,
      fsync: 'none',
      openFile: files.open,
    });
    await Promise.all(logMany(device, 5));
    expect(files.syncs).toBe(0);
    await device.close();
  });

  it('FileAuditDevice.log rejects the whole batch on EIO and keeps the file whole', async () => {
    const files = new FaultyFiles();
    const device = await FileAuditDevice.open({ path, genesisHash: genesis, openFile: files.open });
    await device.log(sampleEntry(0));
    const before = device.lastHash;
    files.writeFault = 'EIO';
    const outcomes = await Promise.allSettled(logMany(device, 10, 1));
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toMatchObject({ code: CoreErrorCode.auditUnavailable });
        expect((outcome.reason as Error).message).toContain('EIO');
      }
    }
    expect(device.lastHash).toBe(before);
    files.writeFault = undefined;
    await device.log(sampleEntry(11));
    expect(await verifyAuditFile(path, { previousHash: genesis })).toMatchObject({
      ok: true,
      lines: 2,
    });
    await device.close();
  });

  it('FileAuditDevice.log truncates a short write that then failed', async () => {
    const files = new FaultyFiles();
    const device = await FileAuditDevice.open({ path, genesisHash: genesis, openFile: files.open });
    await device.log(sampleEntry(0));
    const sizeBefore = (await stat(path)).size;
    files.shortWriteBytes = 17;
    await expect(Promise.all(logMany(device, 3, 1))).rejects.toMatchObject({
      code: CoreErrorCode.auditUnavailable,
    });
    expect((await stat(path)).size).toBe(sizeBefore);
    files.writeFault = undefined;
    await device.log(sampleEntry(4));
    expect(await verifyAuditFile(path, { previousHash: genesis })).toMatchObject({ lines: 2 });
    await device.close();
  });

  it('FileAuditDevice.log rejects when the sync fails and drops the unsynced lines', async () => {
    const files = new FaultyFiles();
    const device = await FileAuditDevice.open({ path, genesisHash: genesis, openFile: files.open });
    files.syncFault = 'EIO';
    await expect(device.log(sampleEntry(0))).rejects.toMatchObject({
      code: CoreErrorCode.auditUnavailable,
    });
    expect((await stat(path)).size).toBe(0);
    await device.close();
  });

  it('FileAuditDevice.reopen continues the chain into a new file after rotation', async () => {
    const device = await FileAuditDevice.open({ path, genesisHash: genesis });
    await Promise.all(logMany(device, 3));
    const rotated = join(dir, 'audit.log.1');
    await rename(path, rotated);
    const [reopened, ...later] = [device.reopen(), ...logMany(device, 4, 3)];
    await Promise.all([reopened, ...later]);
    await device.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const old = await verifyAuditFile(rotated, { previousHash: genesis });
    if (!old.ok) {
      throw new Error(old.message);
    }
    expect(old.lines).toBe(3);
    const next = await verifyAuditFile(path, { previousHash: old.lastHash });
    expect(next).toMatchObject({ ok: true, lines: 4, firstPrev: old.lastHash });
    expect(
      await verifyAuditFile(rotated, { previousHash: genesis, expectLastHash: old.lastHash }),
    ).toMatchObject({ ok: true });
  });

  it('FileAuditDevice.open continues the chain of an existing file (restart)', async () => {
    const first = await FileAuditDevice.open({ path, genesisHash: genesis });
    await Promise.all(logMany(first, 3));
    await first.close();
    const second = await FileAuditDevice.open({ path, genesisHash: 'f'.repeat(64) });
    expect(second.lastHash).toBe(first.lastHash);
    await second.log(sampleEntry(3));
    await second.close();
    expect(await verifyAuditFile(path, { previousHash: genesis })).toMatchObject({ lines: 4 });
  });

  it('FileAuditDevice fences a torn last line with a newline; verify reports it', async () => {
    const first = await FileAuditDevice.open({ path, genesisHash: genesis });
    await first.log(sampleEntry(0));
    await first.close();
    await writeFile(path, '{"type":"requ', { flag: 'a' });
    const second = await FileAuditDevice.open({ path, genesisHash: genesis });
    await second.log(sampleEntry(1));
    await second.close();
    const text = await readFile(path, 'utf8');
    expect(text.split('\n')).toHaveLength(4);
    expect(await verifyAuditFile(path)).toMatchObject({ ok: false, line: 2 });
  });

  it('FileAuditDevice.close writes queued lines, then refuses more', async () => {
    const device = await FileAuditDevice.open({ path, genesisHash: genesis });
    const pending = logMany(device, 3);
    await device.close();
    await Promise.all(pending);
    await expect(device.log(sampleEntry(9))).rejects.toMatchObject({
      code: CoreErrorCode.auditUnavailable,
    });
    await expect(device.reopen()).rejects.toMatchObject({ code: CoreErrorCode.auditUnavailable });
    expect(await verifyAuditFile(path)).toMatchObject({ ok: true, lines: 3 });
  });

  it('FileAuditDevice.open rejects with AUDIT_UNAVAILABLE when the directory is missing', async () => {
    await expect(
      FileAuditDevice.open({ path: join(dir, 'missing', 'audit.log'), genesisHash: genesis }),
    ).rejects.toMatchObject({ code: CoreErrorCode.auditUnavailable, message: /ENOENT/ });
  });
});
