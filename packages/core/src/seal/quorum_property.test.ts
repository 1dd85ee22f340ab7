/**
 * Goal (checklist S3): for an unseal quorum, every set of at least T distinct valid shares
 * opens the root key; smaller, repeated, corrupted and foreign sets never do; and every set
 * that reaches the threshold and fails gets the very same answer, whichever share was bad and
 * wherever it sat.
 *
 * Method: all 32 subsets of a 5-of-3 split, in seeded random orders; seeded samples for 10-of-6
 * and 255-of-2; corruptions flip one seeded bit of one seeded share; foreign shares come from
 * another init of the same cluster id. Limiters never throttle here (their own test covers
 * that). Every random choice comes from SeededRandom, so a failure replays from its seed.
 */
import { ManualClock, SeededRandom } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import { SecretKey } from '../barrier/secret_key.ts';
import { CoreErrorCode } from '../errors.ts';
import { AttemptLimiter } from './attempt_limiter.ts';
import { createUnsealQuorum, generateRootKey, initShamir } from './shamir_seal.ts';
import type { ShareConfig } from './shamir.ts';
import { encodeShare } from './share_encoding.ts';
import type { QuorumStep } from './share_quorum.ts';

const binding = { clusterId: 'property-test' };

interface Fixture {
  readonly rootKey: SecretKey;
  readonly shares: readonly SecretKey[];
  readonly foreign: readonly SecretKey[];
  /** Submits `shares` in order to a fresh quorum; returns every step. */
  run(shares: readonly (SecretKey | string)[]): Promise<QuorumStep<SecretKey>[]>;
}

async function fixture(config: ShareConfig): Promise<Fixture> {
  const rootKey = generateRootKey();
  const init = await initShamir(rootKey, { config, binding });
  const foreign = (await initShamir(generateRootKey(), { config, binding })).shares;
  const limiter = new AttemptLimiter(new ManualClock(), { failuresFree: Number.MAX_SAFE_INTEGER });
  return {
    rootKey,
    shares: init.shares,
    foreign,
    run: async (shares) => {
      const quorum = createUnsealQuorum({ config, wrapped: init.wrappedRootKey, binding, limiter });
      const steps: QuorumStep<SecretKey>[] = [];
      for (const share of shares) {
        steps.push(await quorum.submit(share));
      }
      return steps;
    },
  };
}

function shuffled<T>(items: readonly T[], random: SeededRandom): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = random.int(i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

function sample<T>(items: readonly T[], count: number, random: SeededRandom): T[] {
  return shuffled(items, random).slice(0, count);
}

/** A copy of `share` with one seeded bit flipped. */
function corrupted(share: SecretKey, random: SeededRandom): SecretKey {
  const copy = share.clone();
  const bytes = copy.reveal();
  const index = random.int(bytes.byteLength);
  bytes[index] = (bytes[index] ?? 0) ^ (1 << random.int(8));
  return copy;
}

/** The first completed step, if any. */
function firstDone(steps: readonly QuorumStep<SecretKey>[]): QuorumStep<SecretKey> | undefined {
  return steps.find((step) => !step.ok || step.done);
}

/** Asserts that `steps` reached the threshold and failed with exactly `reference`. */
function expectSameFailure(steps: readonly QuorumStep<SecretKey>[], reference: unknown): void {
  const done = firstDone(steps);
  expect(done).toEqual(reference);
}

describe('unseal quorum properties', () => {
  it('every subset of a 5-of-3 split opens exactly when it holds at least 3 shares', async () => {
    const random = new SeededRandom(5003);
    const f = await fixture({ shares: 5, threshold: 3 });
    for (let mask = 0; mask < 32; mask += 1) {
      const subset = shuffled(
        f.shares.filter((_, index) => (mask & (1 << index)) !== 0),
        random,
      );
      const done = firstDone(await f.run(subset.map(encodeShare)));
      if (subset.length >= 3) {
        expect(done?.ok === true && done.done && done.value.equals(f.rootKey), `mask ${mask}`).toBe(
          true,
        );
      } else {
        expect(done, `mask ${mask}`).toBeUndefined();
      }
    }
  });

  it('repeated shares never count, so sets padded with repeats never open', async () => {
    const random = new SeededRandom(77);
    const f = await fixture({ shares: 5, threshold: 3 });
    for (let round = 0; round < 20; round += 1) {
      const distinct = sample(f.shares, 1 + random.int(2), random);
      const padded = [...distinct, ...Array.from({ length: 3 }, () => random.pick(distinct))];
      const steps = await f.run(shuffled(padded, random).map(encodeShare));
      expect(steps.some((step) => step.ok && step.done)).toBe(false);
      const codes = steps.flatMap((step) => (step.ok ? [] : [step.code]));
      expect(new Set(codes)).toEqual(new Set([CoreErrorCode.shareDuplicate]));
    }
  });

  it('corrupted and foreign sets fail with one identical answer (5-of-3 and 10-of-6)', async () => {
    const random = new SeededRandom(31337);
    const messages = new Set<string>();
    for (const config of [
      { shares: 5, threshold: 3 },
      { shares: 10, threshold: 6 },
    ]) {
      const f = await fixture(config);
      let reference: QuorumStep<SecretKey> | undefined;
      for (let round = 0; round < 40; round += 1) {
        const set = sample(f.shares, config.threshold, random).map((share) => share.clone());
        const position = random.int(set.length);
        const kind = random.pick(['corrupt', 'foreign', 'all-foreign'] as const);
        if (kind === 'corrupt') {
          set[position] = corrupted(set[position] as SecretKey, random);
        } else if (kind === 'foreign') {
          set[position] = random.pick(f.foreign);
        } else {
          set.splice(0, set.length, ...sample(f.foreign, config.threshold, random));
        }
        const steps = await f.run(set.map(encodeShare));
        reference ??= firstDone(steps);
        expect(reference).toMatchObject({ ok: false, code: CoreErrorCode.unsealFailed });
        expectSameFailure(steps, reference);
      }
      messages.add(reference?.ok === false ? reference.message : '');
    }
    expect(messages.size).toBe(1);
  });

  it('large and single configurations keep the properties (255-of-2 sampled, 255-of-255, 1-of-1)', async () => {
    const random = new SeededRandom(255);
    const wide = await fixture({ shares: 255, threshold: 2 });
    for (let round = 0; round < 30; round += 1) {
      const done = firstDone(await wide.run(sample(wide.shares, 2, random).map(encodeShare)));
      expect(done?.ok === true && done.done && done.value.equals(wide.rootKey)).toBe(true);
    }
    const all = await fixture({ shares: 255, threshold: 255 });
    const opened = firstDone(await all.run(shuffled(all.shares, random).map(encodeShare)));
    expect(opened?.ok === true && opened.done && opened.value.equals(all.rootKey)).toBe(true);
    const short = await all.run(all.shares.slice(0, 254).map(encodeShare));
    expect(firstDone(short)).toBeUndefined();
    const single = await fixture({ shares: 1, threshold: 1 });
    const unsplit = firstDone(await single.run(single.shares.map(encodeShare)));
    expect(unsplit?.ok === true && unsplit.done && unsplit.value.equals(single.rootKey)).toBe(true);
    const failed = firstDone(await single.run([corrupted(single.shares[0] as SecretKey, random)]));
    expect(failed).toMatchObject({ ok: false, code: CoreErrorCode.unsealFailed });
  });
});
