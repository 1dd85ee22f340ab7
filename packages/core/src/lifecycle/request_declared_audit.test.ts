/**
 * Goal: an audit device that the server config declares is enabled before the first request
 * after unseal is served, so that request is audited (request and response lines); a declared
 * device that cannot open fails requests closed instead of serving them unaudited.
 * Method: a single-voter node on real LevelDB with declaredAuditDevices, initialized and
 * unsealed through handle() on a manual clock; the audit file read back from disk.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { InMemoryNetwork, ManualClock } from '@coffer/raft/testing';
import { afterEach, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { Operation, type CoreResponse } from '../router/request.ts';
import type { CofferNode } from './coffer_node.ts';
import {
  closeOpenedNodes,
  drive,
  openNode,
  removeRoot,
  singleNodeOptions,
  tempRoot,
  type Harness,
} from './lifecycle_harness.ts';

const roots: string[] = [];

afterEach(async () => {
  await closeOpenedNodes();
  for (const root of roots.splice(0)) {
    await removeRoot(root);
  }
});

async function unsealedNode(
  auditFile: (root: string) => string,
): Promise<{ harness: Harness; node: CofferNode; token: string; file: string }> {
  const harness: Harness = {
    root: await tempRoot(),
    clock: new ManualClock(),
    network: new InMemoryNetwork(),
  };
  roots.push(harness.root);
  const file = auditFile(harness.root);
  const node = await openNode(harness, {
    ...singleNodeOptions(harness, { dir: 'node', seal: { type: 'shamir' } }),
    requests: { declaredAuditDevices: [{ name: 'declared', options: { file_path: file } }] },
  });
  const call = (path: string, data: Record<string, unknown>): Promise<CoreResponse> =>
    drive(harness, node.handle({ operation: Operation.update, path, data }));
  const init = await call('sys/init', { secret_shares: 1, secret_threshold: 1 });
  if (!init.ok) {
    throw new Error(`init refused: ${init.code}`);
  }
  const [key] = init.data?.['keys'] as string[];
  await call('sys/unseal', { key });
  return { harness, node, token: init.data?.['root_token'] as string, file };
}

describe('audit devices declared in the config', () => {
  it('audits the first request after unseal in the declared device', async () => {
    const { harness, node, token, file } = await unsealedNode((root) => join(root, 'audit.log'));
    const first = await drive(
      harness,
      node.handle({ operation: Operation.read, path: 'sys/mounts', token }),
    );
    expect(first.ok).toBe(true);
    const lines = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; request?: { path?: string } });
    expect(lines.map((line) => [line.type, line.request?.path])).toEqual([
      ['request', 'sys/mounts'],
      ['response', 'sys/mounts'],
    ]);
  });

  it('fails requests closed while a declared device cannot open', async () => {
    const { harness, node, token } = await unsealedNode((root) =>
      join(root, 'not-a-dir', 'audit.log'),
    );
    await writeFile(join(harness.root, 'not-a-dir'), 'a file where a directory should be');
    const refused = await drive(
      harness,
      node.handle({ operation: Operation.read, path: 'sys/mounts', token }),
    );
    expect(refused).toMatchObject({ ok: false, code: CoreErrorCode.auditUnavailable });
    expect(refused).not.toHaveProperty('data');
  });
});
