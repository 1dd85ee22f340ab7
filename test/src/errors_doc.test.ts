/**
 * Goal: docs/errors.md lists every error code of every package, and nothing else (STYLE.md 5.5).
 * Method: read every errors.ts under packages/<pkg>/src as text and collect its quoted
 * "COFFER_<PKG>_<WHAT>" strings (text, so a package whose barrel is still being written is covered
 * too), then compare them with the codes in the docs table. One public import per package that
 * exports its codes cross-checks the text scan against the real values.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ApiErrorCode } from '@coffer/api';
import { ClientErrorCode } from '@coffer/client';
import { CoreErrorCode } from '@coffer/core';
import { StorageErrorCode } from '@coffer/storage';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const codePattern = /['"](COFFER_[A-Z0-9_]+)['"]/g;
const docCodePattern = /`(COFFER_[A-Z0-9_]+)`/g;

/** Lists every errors.ts under a package's src/, at any depth (raft keeps its in src/core/). */
function findErrorsFiles(srcDir: string): string[] {
  if (!existsSync(srcDir)) {
    return [];
  }
  const entries = readdirSync(srcDir, { recursive: true, encoding: 'utf8' });
  return entries
    .filter((entry) => basename(entry) === 'errors.ts')
    .map((entry) => join(srcDir, entry));
}

/** Returns each package that has an errors.ts, with the codes quoted in it. */
function findPackageCodes(): Map<string, string[]> {
  const packagesDir = join(repoRoot, 'packages');
  const result = new Map<string, string[]>();
  for (const entry of readdirSync(packagesDir, { withFileTypes: true })) {
    const files = entry.isDirectory() ? findErrorsFiles(join(packagesDir, entry.name, 'src')) : [];
    const codes = files.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(codePattern)].map((match) => match[1] ?? ''),
    );
    if (files.length > 0) {
      result.set(entry.name, [...new Set(codes)]);
    }
  }
  return result;
}

function readDocCodes(): Set<string> {
  const text = readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8');
  return new Set([...text.matchAll(docCodePattern)].map((match) => match[1] ?? ''));
}

describe('docs/errors.md', () => {
  const packageCodes = findPackageCodes();
  const docCodes = readDocCodes();
  const allCodes = new Set([...packageCodes.values()].flat());

  it('errors.ts codes are found for the packages that define them', () => {
    for (const name of ['storage', 'core', 'client', 'api', 'cli']) {
      expect(packageCodes.get(name)?.length ?? 0, `packages/${name}/src/errors.ts`).toBeGreaterThan(
        0,
      );
    }
  });

  it('errors.ts codes are named COFFER_<PKG>_<WHAT> after their package', () => {
    for (const [name, codes] of packageCodes) {
      const prefix = `COFFER_${name.toUpperCase()}_`;
      for (const code of codes) {
        expect(code.startsWith(prefix), `${code} in packages/${name}`).toBe(true);
      }
    }
  });

  it('docs/errors.md lists every code defined in a package', () => {
    const missing = [...allCodes].filter((code) => !docCodes.has(code));
    expect(missing, 'codes missing from docs/errors.md').toEqual([]);
  });

  it('docs/errors.md lists no code that no package defines', () => {
    const stale = [...docCodes].filter((code) => !allCodes.has(code));
    expect(stale, 'stale codes in docs/errors.md').toEqual([]);
  });

  it('public exports agree with the text scan', () => {
    const exported = [
      ...Object.values(StorageErrorCode),
      ...Object.values(CoreErrorCode),
      ...Object.values(ApiErrorCode),
      ...Object.values(ClientErrorCode),
    ];
    for (const code of exported) {
      expect(allCodes.has(code), code).toBe(true);
    }
  });
});
