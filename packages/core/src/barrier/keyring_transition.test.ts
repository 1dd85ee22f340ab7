/**
 * Goal: checkKeyringTransition accepts exactly the changes the plan functions make on the
 * current generation, and refuses stale changes, replaced keys, lowered counts, terms out of
 * sequence and drops of the active or a referenced term.
 * Method: contents built with the plan functions, then altered by hand; pure functions, no I/O.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import type { KeyringContents } from './keyring.ts';
import { planInitialKeyring, planReservation, planRotation, planTermDrop } from './keyring_plan.ts';
import { checkKeyringTransition } from './keyring_transition.ts';
import { SecretKey } from './secret_key.ts';

function twoTermKeyring(): KeyringContents {
  const first = planInitialKeyring(
    { dataKey: SecretKey.generate(), identifierKey: SecretKey.generate() },
    1_000,
  );
  return planRotation(first, { key: SecretKey.generate(), installTimeMs: 2_000, encryptions: 5 });
}

const unreferenced = (): boolean => false;

describe('checkKeyringTransition', () => {
  it('checkKeyringTransition accepts a reservation, a rotation and an unreferenced drop', () => {
    const current = twoTermKeyring();
    const rotation = planRotation(current, {
      key: SecretKey.generate(),
      installTimeMs: 3_000,
      encryptions: 1,
    });
    expect(checkKeyringTransition(current, planReservation(current, 10))).toMatchObject({
      applied: true,
      generation: 3,
      activeTerm: 2,
    });
    expect(checkKeyringTransition(current, rotation)).toMatchObject({
      applied: true,
      activeTerm: 3,
    });
    expect(checkKeyringTransition(current, planTermDrop(current, 1), unreferenced)).toEqual({
      applied: true,
      generation: 3,
      activeTerm: 2,
      droppedTerms: [1],
    });
  });

  it('checkKeyringTransition refuses a change for another generation as stale', () => {
    const current = twoTermKeyring();
    const twoAhead = planReservation(planReservation(current, 1), 1);
    for (const next of [current, twoAhead]) {
      expect(checkKeyringTransition(current, next)).toMatchObject({
        applied: false,
        code: CoreErrorCode.keyringChangeStale,
      });
    }
  });

  it('checkKeyringTransition refuses to drop a referenced term, or any term without a predicate', () => {
    const current = twoTermKeyring();
    const drop = planTermDrop(current, 1);
    for (const outcome of [
      checkKeyringTransition(current, drop, (term) => term === 1),
      checkKeyringTransition(current, drop),
    ]) {
      expect(outcome).toMatchObject({ applied: false, code: CoreErrorCode.barrierTermInUse });
    }
  });

  it('checkKeyringTransition refuses to drop the active term in a rotation', () => {
    const current = twoTermKeyring();
    const rotated = planRotation(current, {
      key: SecretKey.generate(),
      installTimeMs: 3_000,
      encryptions: 0,
    });
    const next = { ...rotated, terms: rotated.terms.filter((entry) => entry.term !== 2) };
    expect(checkKeyringTransition(current, next, unreferenced)).toMatchObject({
      applied: false,
      code: CoreErrorCode.barrierTermInUse,
    });
  });

  it('checkKeyringTransition refuses replaced keys, lowered counts and terms out of sequence', () => {
    const current = twoTermKeyring();
    const next = planReservation(current, 0);
    const changedTerms = (change: (term: number) => object): KeyringContents => ({
      ...next,
      terms: next.terms.map((entry) => ({ ...entry, ...change(entry.term) })),
    });
    const skipped = planRotation(current, {
      key: SecretKey.generate(),
      installTimeMs: 3_000,
      encryptions: 0,
    });
    const invalid: KeyringContents[] = [
      { ...next, identifierKey: SecretKey.generate() },
      changedTerms((term) => (term === 1 ? { key: SecretKey.generate() } : {})),
      changedTerms((term) => (term === 1 ? { installTimeMs: 999 } : {})),
      changedTerms((term) => (term === 2 ? { encryptions: 4 } : {})),
      {
        ...skipped,
        activeTerm: 4,
        terms: skipped.terms.map((entry) => (entry.term === 3 ? { ...entry, term: 4 } : entry)),
      },
    ];
    for (const candidate of invalid) {
      expect(checkKeyringTransition(current, candidate, unreferenced)).toMatchObject({
        applied: false,
        code: CoreErrorCode.keyringChangeInvalid,
      });
    }
  });
});
