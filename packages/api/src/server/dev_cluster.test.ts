/**
 * Goal: DevCluster.start refuses a node count outside 1 to 7 and a directory that is not empty
 * before it starts anything, and a start whose first node cannot start names that node's logs
 * and leaves its files for diagnosis. (A real cluster forming is test/src/dev_cluster.test.ts.)
 * Method: a `node -e` script stands in for `coffer server`; real files in a temporary directory.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DevCluster } from './dev_cluster.ts';

let root = '';
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-dev-cluster-unit-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function start(nodeCount: number, dir: string, script = 'process.exit(0)'): Promise<DevCluster> {
  return DevCluster.start({
    dir,
    nodeCount,
    command: { file: process.execPath, args: ['-e', script] },
    env: { PATH: process.env['PATH'] ?? '' },
    stepDeadlineMs: 20_000,
  });
}

describe('DevCluster.start', () => {
  it('DevCluster.start refuses a node count outside 1 to 7 and makes no directory', async () => {
    for (const count of [0, 8, 2.5]) {
      await expect(start(count, join(root, 'cluster'))).rejects.toMatchObject({
        code: 'COFFER_API_DEV_SETUP_FAILED',
        message: 'Pass --nodes from 1 to 7',
      });
    }
    expect(await readdir(root)).toEqual([]);
  });

  it('DevCluster.start refuses a directory that is not empty', async () => {
    await writeFile(join(root, 'notes.txt'), 'mine');
    await expect(start(3, root)).rejects.toThrow(/not empty/);
    expect(await readdir(root)).toEqual(['notes.txt']);
  });

  it('DevCluster.start names the logs of a node that did not start, and keeps the files', async () => {
    const dir = join(root, 'cluster');
    const failing = "console.error('Error: cannot bind'); process.exit(1);";
    await expect(start(3, dir, failing)).rejects.toMatchObject({
      code: 'COFFER_API_DEV_SETUP_FAILED',
      message: expect.stringMatching(
        /^Check .*node-1\/server\.log and .*node-1\/output\.log: node 1 did not start: .*exit code 1[\s\S]*cannot bind/,
      ) as unknown,
    });
    const files = await readdir(dir);
    expect(files).toEqual(expect.arrayContaining(['ca.pem', 'tls-key.pem', 'node-1']));
    expect(files).not.toContain('cluster.json');
  });
});
