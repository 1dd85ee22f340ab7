/**
 * Goal: verifyAuditFile accepts an intact chain and reports every removed, inserted (even a
 * forged line with a correct prev), edited or reordered line, and a truncated last line, with
 * the line where the chain broke.
 * Method: a real device writes a chain into a mkdtemp directory; seeded random mutations of its
 * lines are written to new files and verified with the genesis and last-hash anchors.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { chainHash } from './audit_chain.ts';
import { auditChainGenesis, newAuditSalt } from './audit_hash.ts';
import { SeededRandom, sampleEntry } from './audit_test_support.ts';
import { verifyAuditFile } from './verify_audit_file.ts';
import { FileAuditDevice } from './file_audit_device.ts';

const lineCount = 12;
let dir: string;
let lines: string[];
let genesis: string;
let lastHash: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-audit-verify-'));
  genesis = auditChainGenesis(newAuditSalt());
  const path = join(dir, 'audit.log');
  const device = await FileAuditDevice.open({ path, genesisHash: genesis, fsync: 'none' });
  await Promise.all(
    Array.from({ length: lineCount }, (_, index) => device.log(sampleEntry(index))),
  );
  lastHash = device.lastHash;
  await device.close();
  lines = (await readFile(path, 'utf8')).split('\n').slice(0, -1);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileCounter = 0;
async function verifyText(text: string, anchored = true) {
  fileCounter += 1;
  const path = join(dir, `mutated-${fileCounter}.log`);
  await writeFile(path, text);
  return verifyAuditFile(path, anchored ? { previousHash: genesis, expectLastHash: lastHash } : {});
}

const joined = (items: readonly string[]) => items.map((line) => `${line}\n`).join('');

/** A line that follows `previous` correctly but was never written by the device. */
function forgedAfter(previous: string | undefined): string {
  const prev = previous === undefined ? genesis : chainHash(Buffer.from(previous));
  return JSON.stringify({ ...sampleEntry(999), prev });
}

type Mutation = (items: string[], random: SeededRandom) => string;

const mutations: Readonly<Record<string, Mutation>> = {
  remove: (items, random) => {
    items.splice(random.below(items.length), 1);
    return joined(items);
  },
  edit: (items, random) => {
    const index = random.below(items.length);
    const line = items[index] ?? '';
    const at = random.below(line.length);
    const replacement = line[at] === 'x' ? 'y' : 'x';
    items[index] = line.slice(0, at) + replacement + line.slice(at + 1);
    return joined(items);
  },
  reorder: (items, random) => {
    const first = random.below(items.length);
    const second = (first + 1 + random.below(items.length - 1)) % items.length;
    const moved = items[first] ?? '';
    items[first] = items[second] ?? '';
    items[second] = moved;
    return joined(items);
  },
  insertCopy: (items, random) => {
    items.splice(random.below(items.length + 1), 0, items[random.below(items.length)] ?? '');
    return joined(items);
  },
  insertForged: (items, random) => {
    const at = random.below(items.length + 1);
    items.splice(at, 0, forgedAfter(items[at - 1]));
    return joined(items);
  },
  truncateTail: (items, random) => {
    const text = joined(items);
    return text.slice(0, text.length - 1 - random.below(20));
  },
};

describe('verifyAuditFile', () => {
  it('verifyAuditFile accepts an intact chain and returns its count and last hash', async () => {
    const result = await verifyText(joined(lines));
    expect(result).toEqual({ ok: true, lines: lineCount, firstPrev: genesis, lastHash });
    expect(await verifyText(joined(lines), false)).toMatchObject({ ok: true, lastHash });
  });

  it('verifyAuditFile accepts an empty file', async () => {
    expect(await verifyText('', false)).toEqual({
      ok: true,
      lines: 0,
      firstPrev: '',
      lastHash: '',
    });
  });

  for (const [name, mutate] of Object.entries(mutations)) {
    it(`verifyAuditFile reports every seeded ${name} mutation`, async () => {
      const random = new SeededRandom(`verify-${name}`);
      for (let round = 0; round < 40; round += 1) {
        const result = await verifyText(mutate([...lines], random));
        expect(result).toMatchObject({ ok: false, code: CoreErrorCode.auditChainBroken });
        if (!result.ok) {
          expect(result.line).toBeGreaterThanOrEqual(1);
          expect(result.line).toBeLessThanOrEqual(lineCount + 2);
        }
      }
    });
  }

  it('verifyAuditFile names the line after a removed one', async () => {
    const items = [...lines];
    items.splice(4, 1);
    expect(await verifyText(joined(items), false)).toMatchObject({ ok: false, line: 5 });
  });

  it('verifyAuditFile names an edited line through the line after it', async () => {
    const items = [...lines];
    items[2] = (items[2] ?? '').replace('request-2', 'request-X');
    expect(await verifyText(joined(items), false)).toMatchObject({ ok: false, line: 4 });
  });

  it('verifyAuditFile names a truncated last line', async () => {
    const text = joined(lines);
    const result = await verifyText(text.slice(0, -10), false);
    expect(result).toMatchObject({ ok: false, line: lineCount });
    if (!result.ok) {
      expect(result.message).toContain('truncated');
    }
  });

  it('verifyAuditFile needs expectLastHash to see whole lines cut from the end', async () => {
    const text = joined(lines.slice(0, -2));
    expect(await verifyText(text, false)).toMatchObject({ ok: true, lines: lineCount - 2 });
    expect(await verifyText(text)).toMatchObject({ ok: false, line: lineCount - 1 });
  });

  it('verifyAuditFile refuses a first line whose prev is not the previous hash', async () => {
    expect(await verifyText(joined(lines.slice(1)))).toMatchObject({ ok: false, line: 1 });
  });

  it('verifyAuditFile refuses corrupt lines: not JSON, not an object, no prev', async () => {
    for (const bad of ['{"prev":', '[1,2]', '{"type":"request"}', '{"prev":"ABC"}', '\u00ff']) {
      const result = await verifyText(`${lines[0] ?? ''}\n${bad}\n`, false);
      expect(result).toMatchObject({ ok: false, line: 2 });
    }
  });

  it('verifyAuditFile rejects when the file does not exist', async () => {
    await expect(verifyAuditFile(join(dir, 'absent.log'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});
