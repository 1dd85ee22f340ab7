/**
 * Goal: through the whole stack (barrier, Raft log, LevelDB state, snapshots, InstallSnapshot),
 * no plaintext value and no token id ever reaches disk, while paths do (they are stored in clear,
 * as in Vault), and every replica ends with the same state.
 * Method: three nodes in one process on real LevelDB directories, the encoding in-memory
 * transport and a manual clock. Random canary values and a token id are written; one node is
 * stopped while the others write enough to snapshot and compact, then restarted so that it
 * catches up by InstallSnapshot. Every byte of every data directory is scanned for each canary
 * in UTF-8, hex and base64; the paths are the positive control (the scan must find them, so
 * LevelDB's compression cannot hide a canary from it).
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { IdentifierPurpose, SecretKey } from '@coffer/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InProcessCluster, type Member } from './in_process_cluster.ts';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Which of the needles occur in any file under dir, in UTF-8, hex or base64. */
async function found(dir: string, needles: readonly string[]): Promise<Set<string>> {
  const hits = new Set<string>();
  for (const file of await filesUnder(dir)) {
    const bytes = await readFile(file);
    for (const needle of needles) {
      const forms = [
        Buffer.from(needle),
        Buffer.from(Buffer.from(needle).toString('hex')),
        Buffer.from(Buffer.from(needle).toString('base64').replace(/=+$/, '')),
      ];
      if (forms.some((form) => bytes.includes(form))) {
        hits.add(needle);
      }
    }
  }
  return hits;
}

describe('the encrypted stack', () => {
  let cluster: InProcessCluster;
  let rootKey: SecretKey;

  beforeAll(async () => {
    cluster = await InProcessCluster.create({
      voters: [1, 2, 3],
      logEntriesMax: 24,
      snapshotKeepEntries: 4,
    });
    rootKey = SecretKey.generate();
  });

  afterAll(async () => {
    rootKey.zero();
    await cluster.destroy();
  });

  it('no canary value or token id reaches any data directory, through snapshot, compaction and InstallSnapshot', async () => {
    for (const id of [1, 2, 3]) {
      await cluster.start(id);
    }
    const first = await cluster.bootstrap(rootKey);

    const canary = (): string => `canary-${randomBytes(16).toString('hex')}`;
    const values = new Map<string, string>();
    const paths: string[] = [];
    const tokenId = `hvs.${randomBytes(18).toString('base64url')}`;
    const tokenPath = `auth/token/id/${first.barrier.hmacIdentifier(IdentifierPurpose.token, tokenId)}`;
    values.set(tokenPath, JSON.stringify({ id: tokenId, policies: ['default'] }));
    for (let i = 0; i < 6; i++) {
      const path = `secret/data/path-${randomBytes(6).toString('hex')}`;
      paths.push(path);
      values.set(path, canary());
    }
    const writes = async (member: Member, entries: Iterable<[string, string]>): Promise<void> => {
      for (const [path, value] of entries) {
        await member.secure.put(path, new TextEncoder().encode(value));
      }
    };
    await cluster.settle(writes(first, values));
    await cluster.settle(first.secure.rotate());

    // One node misses enough writes for the leader to snapshot and compact past it.
    const lagging = [...cluster.members.keys()].find((id) => id !== first.id) ?? 3;
    const lagApplied = cluster.members.get(lagging)?.node.raw.status().applied ?? 0;
    await cluster.stop(lagging);
    const more = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      more.set(`secret/data/more-${i}`, canary());
    }
    await cluster.settle(writes(first, more));
    await cluster.until(() => first.node.raw.raft.log.firstIndex() > lagApplied + 1);
    const restarted = await cluster.start(lagging, rootKey.clone());
    const lastIndex = first.node.raw.status().applied;
    await cluster.until(() => restarted.node.raw.status().applied >= lastIndex);

    // Every replica reads back the same plaintext and holds the same state.
    for (const m of cluster.members.values()) {
      expect(m.barrier.isSealed).toBe(false);
    }
    for (const [path, value] of [...values, ...more]) {
      const read = await cluster.settle(first.secure.get(path));
      expect(new TextDecoder().decode(read)).toBe(value);
    }
    const hashes = await Promise.all([...cluster.members.values()].map((m) => m.store.stateHash()));
    expect(new Set(hashes).size).toBe(1);

    for (const id of [...cluster.members.keys()]) {
      await cluster.stop(id);
    }
    const secrets = [...values.values(), ...more.values(), tokenId];
    expect([...(await found(cluster.root, secrets))]).toEqual([]);
    expect([...(await found(cluster.root, paths))].sort()).toEqual([...paths].sort());
  });
});
