import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { createServerLog, redactedCensor, redactedFieldNames } from './server_log.ts';

let root: string | undefined;

afterEach(async () => {
  if (root !== undefined) {
    await rm(root, { recursive: true, force: true });
  }
});

describe('createServerLog', () => {
  it('writes one JSON line per event, with secret-bearing fields redacted at any depth', async () => {
    root = await mkdtemp(join(tmpdir(), 'coffer-server-log-'));
    const file = join(root, 'server.log');
    const log = createServerLog({ destination: file, sync: true });
    const canary = 'canary-3f9a1c-secret';
    for (const name of redactedFieldNames) {
      log.info('top', { [name]: canary, path: 'secret/data/a' });
      log.warn('nested', { request: { [name]: canary } });
      log.error('deeper', { request: { body: { [name]: canary } } });
    }
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(canary);
    const lines = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(redactedFieldNames.length * 3);
    expect(lines[0]).toMatchObject({ event: 'top', path: 'secret/data/a', level: 30 });
    expect(text).toContain(redactedCensor);
  });
});
