/**
 * Goal: applying is deterministic. Replicas that apply the same committed log, cut into
 * different batches, end with the same state hash and return the same results, and that state
 * is the one an independent model of the semantics computes.
 * Method: a seeded random log of puts, deletes, transactions (conditions drawn so that some
 * hold and some fail), empty and malformed entries; three stores apply it in different seeded
 * batch splits (one of them also replays overlapping batches, as after a crash); compare the
 * hashes, the results and every key against StateModel from random_commands.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SeededRandom } from '@coffer/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ApplyResult } from './apply_result.ts';
import { countKeys } from './snapshot_test_support.ts';
import { LevelStateStore } from './level_state_store.ts';
import { randomBatches, randomLog, sampleKeys, StateModel } from './random_commands.ts';
import type { StateEntry } from './state_apply.ts';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-divergence-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function applyInBatches(
  name: string,
  batches: readonly (readonly StateEntry[])[],
): Promise<{ hash: string; results: ApplyResult[]; store: LevelStateStore }> {
  const store = await LevelStateStore.open(join(root, name), { syncApply: false });
  const results: ApplyResult[] = [];
  for (const batch of batches) {
    results.push(...(await store.apply(batch)));
  }
  return { hash: await store.stateHash(), results, store };
}

/** Batches that each start a few entries back, so every batch but the first replays some. */
function overlapping(random: SeededRandom, entries: readonly StateEntry[]): StateEntry[][] {
  return randomBatches(random, entries, 40).map((batch, i) => {
    const start = entries.indexOf(batch[0] as StateEntry);
    const back = i === 0 ? 0 : random.int(Math.min(start, 10) + 1);
    return entries.slice(start - back, start + batch.length);
  });
}

// Real disk and thousands of cases: generous bounds for a loaded CI machine.
describe('state machine determinism', { timeout: 30_000 }, () => {
  it('replicas applying one log in different batch splits end with the same state', async () => {
    const random = new SeededRandom(20260501);
    const model = new StateModel();
    const { entries } = randomLog(random, 3000, model);
    const one = await applyInBatches(
      'one-by-one',
      entries.map((e) => [e]),
    );
    const big = await applyInBatches('big', randomBatches(random, entries, 500));
    const replayed = await applyInBatches('replayed', overlapping(random, entries));
    expect(big.hash).toBe(one.hash);
    expect(replayed.hash).toBe(one.hash);
    expect(big.results).toEqual(one.results);
    const outcomes = new Set(one.results.map((r) => (r.ok ? r.outcome : r.code)));
    expect([...outcomes].sort()).toEqual([
      'COFFER_STORAGE_CAS_FAILED',
      'COFFER_STORAGE_MALFORMED_COMMAND',
      'applied',
      'empty',
    ]);
    for (const key of sampleKeys) {
      const expected = model.values.get(key);
      const actual = one.store.get(key);
      expect(actual, key).toEqual(
        expected === undefined ? undefined : { ...expected, value: new Uint8Array(expected.value) },
      );
    }
    expect(await countKeys(one.store)).toBe(model.values.size);
    await Promise.all([one, big, replayed].map((r) => r.store.close()));
  });
});
