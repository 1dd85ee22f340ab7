/**
 * Goal: the dev cluster's directory, ports and node configs: a new directory is made 0700; a
 * directory holding a previous cluster or anything else is refused with what to do and left
 * untouched; the ports are distinct; each node's config passes the server's own validation,
 * with the join token file for joiners only; secret files are 0600 and never overwritten.
 * Method: real files in a temporary directory; configs checked with validateServerConfig.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { parse } from 'yaml';

import { validateServerConfig } from './config.ts';
import {
  freeLoopbackPorts,
  nodeConfigDocument,
  planLayout,
  prepareDirectory,
  writeNodeConfig,
  writeSecretFile,
} from './dev_cluster_layout.ts';

let root = '';
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-dev-layout-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('prepareDirectory', () => {
  it('prepareDirectory makes a new directory with mode 0700', async () => {
    const dir = join(root, 'a', 'cluster');
    await prepareDirectory(dir);
    expect(await modeOf(dir)).toBe(0o700);
    expect(await readdir(dir)).toEqual([]);
  });

  it('prepareDirectory refuses a previous dev cluster and leaves it as it is', async () => {
    await writeFile(join(root, 'cluster.json'), '{}');
    await expect(prepareDirectory(root)).rejects.toMatchObject({
      code: 'COFFER_API_DEV_SETUP_FAILED',
      message: expect.stringContaining('holds a previous dev cluster') as unknown,
    });
    expect(await readdir(root)).toEqual(['cluster.json']);
  });

  it('prepareDirectory refuses a path that is a file, naming the system error', async () => {
    const file = join(root, 'file');
    await writeFile(file, 'mine');
    await expect(prepareDirectory(file)).rejects.toMatchObject({
      code: 'COFFER_API_DEV_SETUP_FAILED',
      message: expect.stringMatching(/cannot be made or read \(EEXIST\)$/) as unknown,
    });
  });

  it('prepareDirectory refuses a directory that is not empty', async () => {
    await mkdir(join(root, 'photos'));
    await expect(prepareDirectory(root)).rejects.toThrow(/Pass an empty or new directory/);
    expect(await readdir(root)).toEqual(['photos']);
  });
});

describe('planLayout', () => {
  it('freeLoopbackPorts returns distinct ports', async () => {
    const ports = await freeLoopbackPorts(9);
    expect(new Set(ports).size).toBe(9);
  });

  it('nodeConfigDocument passes the server config validation, join token for joiners only', async () => {
    const layout = await planLayout(root, 3);
    const addresses = layout.nodes.flatMap((node) => [
      node.grpcAddress,
      node.httpAddress,
      node.clusterAddress,
    ]);
    expect(new Set(addresses).size).toBe(9);
    for (const node of layout.nodes) {
      const config = validateServerConfig(nodeConfigDocument(layout, node), root);
      expect(config.nodeId).toBe(node.id);
      expect(config.storagePath).toBe(join(root, `node-${node.id}`, 'data'));
      expect(config.cluster?.serverStabilizationMs).toBe(1000);
      expect(config.cluster?.joinTokenFile).toBe(
        node.id === 1 ? undefined : join(root, `node-${node.id}`, 'join.token'),
      );
      expect(config.listeners.grpc.tlsKeyFile).toBe(join(root, 'tls-key.pem'));
    }
  });

  it('writeNodeConfig writes YAML the server reads back as the same document', async () => {
    const layout = await planLayout(root, 2);
    const node = layout.nodes[1];
    if (node === undefined) {
      throw new Error('no node 2');
    }
    await writeNodeConfig(layout, node);
    expect(await modeOf(node.dir)).toBe(0o700);
    expect(parse(await readFile(node.configFile, 'utf8'))).toEqual(
      nodeConfigDocument(layout, node),
    );
  });
});

describe('writeSecretFile', () => {
  it('writeSecretFile writes mode 0600 and refuses to overwrite', async () => {
    const file = join(root, 'root-token');
    await writeSecretFile(file, 'not-a-real-token');
    expect(await modeOf(file)).toBe(0o600);
    await expect(writeSecretFile(file, 'other')).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(file, 'utf8')).toBe('not-a-real-token\n');
  });
});
