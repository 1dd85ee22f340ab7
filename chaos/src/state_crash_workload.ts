/**
 * The seeded workload shared by state_crash.test.ts and state_crash_child.ts: both build the
 * same command log and the same batch split from a seed, so the parent knows every state the
 * child can leave behind, and the child needs nothing but the seed to resume where its store
 * stands.
 */
import { asIndex, asTerm } from '@coffer/raft';
import { SeededRandom } from '@coffer/raft/testing';
import { encodeStateCommand, type StateCommand, type StateEntry } from '@coffer/storage';

/** What the child tells the parent. */
export type StateChildMessage =
  | { readonly type: 'ready'; readonly appliedIndex: number }
  | { readonly type: 'writing'; readonly batch: number }
  | { readonly type: 'applied'; readonly batch: number }
  | { readonly type: 'chunk'; readonly count: number }
  | { readonly type: 'done' };

/** The snapshot key of the crash test (a test key, not a secret). */
export const crashSnapshotKey = new Uint8Array(32).fill(0x42);

/** The parameters of one workload. */
export interface Workload {
  readonly seed: number;
  readonly entryCount: number;
  readonly batchSizeMax: number;
}

const keys = Array.from({ length: 64 }, (_, i) => `secret/data/app-${i % 8}/key-${i}`);

function randomValue(random: SeededRandom): Uint8Array {
  return Uint8Array.from({ length: 16 + random.int(200) }, () => random.int(256));
}

function randomCommand(random: SeededRandom, index: number): StateCommand {
  const roll = random.float();
  const key = random.pick(keys);
  if (roll < 0.55) {
    return { kind: 'put', key, value: randomValue(random) };
  }
  if (roll < 0.7) {
    return { kind: 'delete', key };
  }
  // Conditions on versions that may or may not hold: some transactions commit, some fail.
  const version = 1 + random.int(Math.max(1, index - 1));
  return {
    kind: 'transaction',
    conditions: random.chance(0.5)
      ? [{ kind: 'absent', key }]
      : [{ kind: 'version', key, version }],
    operations: [
      { kind: 'put', key: random.pick(keys), value: randomValue(random) },
      { kind: 'put', key: random.pick(keys), value: randomValue(random) },
      { kind: 'delete', key: random.pick(keys) },
    ],
  };
}

/** The log of the workload, cut into its batches (entries from index 1, in order). */
export function workloadBatches(workload: Workload): StateEntry[][] {
  const random = new SeededRandom(workload.seed);
  const batches: StateEntry[][] = [];
  let batch: StateEntry[] = [];
  let size = 1 + random.int(workload.batchSizeMax);
  for (let index = 1; index <= workload.entryCount; index++) {
    const data = encodeStateCommand(randomCommand(random, index));
    batch.push({ index: asIndex(index), term: asTerm(1 + Math.floor(index / 100)), data });
    if (batch.length === size) {
      batches.push(batch);
      batch = [];
      size = 1 + random.int(workload.batchSizeMax);
    }
  }
  if (batch.length > 0) {
    batches.push(batch);
  }
  return batches;
}
