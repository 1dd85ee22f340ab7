/**
 * Goal: the keyring rotates by itself through the log, by encryption count and by age, the
 * count survives a restart (it never under-counts), and values written under every term read
 * back on every replica after a restart.
 * Method: a three-node in-process cluster on real LevelDB with a tiny rotation policy (rotate
 * after 20 encryptions, reserve 5 at a time); the manual clock ages the active term.
 */
import { SecretKey } from '@coffer/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InProcessCluster, type Member } from './in_process_cluster.ts';

const encryptionsMax = 20;
const rotationIntervalMs = 2_000;

describe('automatic keyring rotation', () => {
  let cluster: InProcessCluster;
  let rootKey: SecretKey;

  beforeAll(async () => {
    cluster = await InProcessCluster.create({
      voters: [1, 2, 3],
      rotation: { encryptionsMax, reservationEncryptions: 5, rotationIntervalMs },
    });
    rootKey = SecretKey.generate();
  });

  afterAll(async () => {
    rootKey.zero();
    await cluster.destroy();
  });

  it('SecureStore rotates by count and by age through the log, and every term still reads back after a restart', async () => {
    for (const id of [1, 2, 3]) {
      await cluster.start(id);
    }
    let leader = await cluster.bootstrap(rootKey);
    const written = new Map<string, string>();
    const write = async (member: Member, count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const path = `secret/data/v${written.size}`;
        written.set(path, `value ${written.size}`);
        await member.secure.put(path, new TextEncoder().encode(written.get(path)));
      }
    };
    await cluster.settle(write(leader, 50));
    const byCount = leader.barrier.keyringStatus();
    expect(byCount.terms.length).toBeGreaterThanOrEqual(3);
    expect(byCount.terms.every((t) => t.encryptions <= encryptionsMax)).toBe(true);
    // Reserved encryptions are an upper bound: never fewer than the values encrypted.
    expect(byCount.terms.reduce((n, t) => n + t.encryptions, 0)).toBeGreaterThanOrEqual(50);

    // NB: time passes tick by tick (heartbeats keep flowing), not in one jump (an election).
    const aged = cluster.clock.nowMs() + rotationIntervalMs;
    await cluster.until(() => cluster.clock.nowMs() >= aged);
    await cluster.settle(write(leader, 1));
    expect(leader.barrier.keyringStatus().term).toBe(byCount.term + 1);

    // Every replica follows the same keyring through the log.
    const generation = leader.barrier.keyringStatus().generation;
    const status = JSON.stringify(leader.barrier.keyringStatus());
    await cluster.until(() =>
      [...cluster.members.values()].every(
        (m) => JSON.stringify(m.barrier.keyringStatus()) === status,
      ),
    );

    // A full restart: counts survive, and every term still decrypts.
    for (const id of [1, 2, 3]) {
      await cluster.stop(id);
    }
    for (const id of [1, 2, 3]) {
      await cluster.start(id, rootKey.clone());
    }
    leader = await cluster.electLeader();
    const reopened = leader.barrier.keyringStatus();
    expect(reopened.generation).toBeGreaterThanOrEqual(generation);
    await cluster.settle(write(leader, 10));
    const after = leader.barrier.keyringStatus();
    expect(after.terms.reduce((n, t) => n + t.encryptions, 0)).toBeGreaterThanOrEqual(61);
    for (const [path, value] of written) {
      const read = await cluster.settle(leader.secure.get(path));
      expect(new TextDecoder().decode(read)).toBe(value);
    }
  });
});
