/**
 * Goal: the PIN file is read only when it is a regular file of this user with mode 0600 or
 * 0400, and the PIN never appears in an error.
 * Method: files in a temporary directory with each mode, owner and shape.
 */
import { chmodSync, chownSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { readPinFile } from './pin_file.ts';

const dir = mkdtempSync(join(tmpdir(), 'coffer-pin-'));
const pin = 'pin-canary-4711';

function pinFile(name: string, mode: number, content = `${pin}\n`): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

async function failure(path: string): Promise<{ code?: string; message: string }> {
  try {
    await readPinFile(path);
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected readPinFile to fail');
}

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('readPinFile', () => {
  it('readPinFile reads 0600 and 0400 files and strips one line break', async () => {
    for (const [name, mode] of [
      ['a', 0o600],
      ['b', 0o400],
    ] as const) {
      const read = await readPinFile(pinFile(name, mode));
      expect(read.reveal().toString('utf8')).toBe(pin);
    }
    const crlf = await readPinFile(pinFile('crlf', 0o600, `${pin}\r\n`));
    expect(crlf.reveal().toString('utf8')).toBe(pin);
  });

  it('readPinFile follows a symbolic link and checks its target', async () => {
    const target = pinFile('target', 0o600);
    symlinkSync(target, join(dir, 'link'));
    expect((await readPinFile(join(dir, 'link'))).reveal().toString('utf8')).toBe(pin);
  });

  it('readPinFile refuses group or world bits, other modes, other owners and empty files', async () => {
    const refused = [
      pinFile('g', 0o640),
      pinFile('w', 0o644),
      pinFile('x', 0o700),
      pinFile('empty', 0o600, '\n'),
      pinFile('long', 0o600, 'x'.repeat(300)),
      dir,
    ];
    if (process.getuid?.() === 0) {
      const foreign = pinFile('foreign', 0o600);
      chownSync(foreign, 65534, 65534);
      refused.push(foreign);
    }
    for (const path of refused) {
      const error = await failure(path);
      expect(error.code, path).toBe(CoreErrorCode.sealPinFileInsecure);
      expect(error.message).not.toContain(pin);
    }
  });

  it('readPinFile reports a missing file as a config error', async () => {
    expect((await failure(join(dir, 'missing'))).code).toBe(CoreErrorCode.sealConfigInvalid);
  });
});
