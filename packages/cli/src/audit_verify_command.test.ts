/**
 * Goal: `coffer audit verify` run as a real process exits 0 and prints the line count and last
 * hash for an intact chain, exits 1 with the chain code and line for a broken one, honours
 * --previous-hash and --next (lines cut from the end), --format json, and refuses bad input;
 * every failure prints as `Error: <message> (<code>)`, as other commands' errors do.
 * Method: chains built here with node:crypto (an oracle independent of @coffer/core) in a
 * mkdtemp directory; the binary spawned with tsx and the @coffer/source condition.
 *
 * NB: the command imports verifyAuditFile from @coffer/api (STYLE.md 2.1: cli → api). Until
 * @coffer/api re-exports it, the suite is skipped with that reason.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const mainPath = fileURLToPath(new URL('./main.ts', import.meta.url));
const api = (await import('@coffer/api')) as unknown as Record<string, unknown>;
const exported = typeof api['verifyAuditFile'] === 'function';

function runCoffer(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@coffer/source', '--import', 'tsx', mainPath, ...args],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const genesis = 'a'.repeat(64);

/** count chained lines starting at prev; returns the lines and the last line's hash. */
function chain(count: number, prev: string): { lines: string[]; last: string } {
  const lines: string[] = [];
  let last = prev;
  for (let index = 0; index < count; index += 1) {
    const line = JSON.stringify({ type: 'request', request: { id: `r${index}` }, prev: last });
    lines.push(line);
    last = sha256(line);
  }
  return { lines, last };
}

const text = (lines: readonly string[]) => lines.map((line) => `${line}\n`).join('');

let dir: string;
let good: { lines: string[]; last: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-cli-verify-'));
  good = chain(6, genesis);
  await writeFile(join(dir, 'good.log'), text(good.lines));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!exported)(
  `coffer audit verify${exported ? '' : ' (skipped: @coffer/api does not export verifyAuditFile yet)'}`,
  // Each case spawns tsx processes (about a second each on a loaded machine).
  { timeout: 30_000 },
  () => {
    it('coffer audit verify exits 0 and prints the count and last hash of an intact chain', async () => {
      const result = await runCoffer(['audit', 'verify', join(dir, 'good.log')]);
      expect(result).toMatchObject({ code: 0, stdout: `ok: 6 lines, last hash ${good.last}\n` });
    });

    it('coffer audit verify --format json prints the outcome as JSON', async () => {
      const result = await runCoffer([
        'audit',
        'verify',
        join(dir, 'good.log'),
        '--format',
        'json',
        '--previous-hash',
        genesis,
      ]);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({
        ok: true,
        lines: 6,
        firstPrev: genesis,
        lastHash: good.last,
      });
    });

    it('coffer audit verify exits 1 with the code and line of a removed line', async () => {
      const path = join(dir, 'removed.log');
      await writeFile(path, text(good.lines.filter((_, index) => index !== 2)));
      const result = await runCoffer(['audit', 'verify', path]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^Error: [^\n]*line 3 [^\n]* \(COFFER_CORE_AUDIT_CHAIN_BROKEN\)\n$/,
      );
      const json = await runCoffer(['audit', 'verify', path, '--format', 'json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({
        ok: false,
        line: 3,
        code: 'COFFER_CORE_AUDIT_CHAIN_BROKEN',
      });
    });

    it('coffer audit verify --previous-hash refuses a file that does not follow it', async () => {
      const result = await runCoffer([
        'audit',
        'verify',
        join(dir, 'good.log'),
        '--previous-hash',
        'b'.repeat(64),
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^Error: [^\n]*line 1 [^\n]* \(COFFER_CORE_AUDIT_CHAIN_BROKEN\)\n$/,
      );
    });

    it('coffer audit verify --next finds lines cut from the end before a rotation', async () => {
      const next = chain(2, good.last);
      await writeFile(join(dir, 'next.log'), text(next.lines));
      await writeFile(join(dir, 'cut.log'), text(good.lines.slice(0, -1)));
      const whole = await runCoffer([
        'audit',
        'verify',
        join(dir, 'good.log'),
        '--next',
        join(dir, 'next.log'),
      ]);
      expect(whole.code).toBe(0);
      const alone = await runCoffer(['audit', 'verify', join(dir, 'cut.log')]);
      expect(alone.code).toBe(0);
      const cut = await runCoffer([
        'audit',
        'verify',
        join(dir, 'cut.log'),
        '--next',
        join(dir, 'next.log'),
      ]);
      expect(cut.code).toBe(1);
      expect(cut.stderr).toMatch(/^Error: [^\n]* \(COFFER_CORE_AUDIT_CHAIN_BROKEN\)\n$/);
    });

    it('coffer audit verify exits 1 on a missing file and on a malformed --previous-hash', async () => {
      const missing = await runCoffer(['audit', 'verify', join(dir, 'absent.log')]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(
        /^Error: [^\n]*ENOENT[^\n]* \(COFFER_CLI_FILE_UNREADABLE\)\n$/,
      );
      const missingJson = await runCoffer([
        'audit',
        'verify',
        join(dir, 'absent.log'),
        '--format',
        'json',
      ]);
      expect(JSON.parse(missingJson.stdout)).toMatchObject({
        ok: false,
        code: 'COFFER_CLI_FILE_UNREADABLE',
      });
      const malformed = await runCoffer([
        'audit',
        'verify',
        join(dir, 'good.log'),
        '--previous-hash',
        'zz',
      ]);
      expect(malformed.code).toBe(1);
      expect(malformed.stderr).toBe(
        'Error: Pass --previous-hash as 64 lowercase hex digits (COFFER_CLI_INVALID_ARGUMENT)\n',
      );
      const format = await runCoffer(['audit', 'verify', join(dir, 'good.log'), '--format', 'xml']);
      expect(format.code).toBe(1);
    });
  },
);
