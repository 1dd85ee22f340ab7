/**
 * Goal: src/generated is exactly what scripts/generate_types.ts makes from the .proto files
 * today, so a .proto change without regenerated types fails CI (issue 8: "regenerated and
 * diffed in CI").
 * Method: run the script as a real process (tsx) into a temporary directory and compare every
 * file, names and bytes, with the committed ones.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

const packageDirectory = fileURLToPath(new URL('..', import.meta.url));
const committedDirectory = join(packageDirectory, 'src', 'generated');
const advice = 'Run npm run generate -w @coffer/client and commit the result';

function listFiles(directory: string): string[] {
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(directory.length + 1))
    .sort();
}

describe('src/generated', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'coffer-generated-'));

  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it('src/generated matches a fresh run of scripts/generate_types.ts byte for byte', () => {
    const output = join(scratch, 'generated');
    execFileSync(
      process.execPath,
      ['--import', 'tsx', join('scripts', 'generate_types.ts'), output],
      { cwd: packageDirectory, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const fresh = listFiles(output);
    expect(fresh.length, 'the generator wrote no files').toBeGreaterThan(0);
    expect(listFiles(committedDirectory), advice).toEqual(fresh);
    for (const file of fresh) {
      const same = readFileSync(join(output, file)).equals(
        readFileSync(join(committedDirectory, file)),
      );
      expect(same, `${file} differs. ${advice}`).toBe(true);
    }
  });
});
