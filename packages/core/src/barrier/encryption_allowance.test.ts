/**
 * Goal: a node's allowance grows only by changes it proposed itself, once they apply; a change
 * applied from another node, a stale one or a forgotten one grants nothing; spending stops at
 * zero and is per term.
 * Method: EncryptionAllowance driven by hand with byte strings standing in for sealed keyrings.
 */
import { describe, expect, it } from 'vitest';

import { EncryptionAllowance, pendingReservationsMax } from './encryption_allowance.ts';

const bytes = (tag: number): Uint8Array => Uint8Array.of(tag, tag, tag);

describe('EncryptionAllowance', () => {
  it('EncryptionAllowance credits a change it expected once applied, and spends it to zero', () => {
    const allowance = new EncryptionAllowance();
    allowance.expect({ bytes: bytes(1), generation: 2, term: 1, encryptions: 3 });
    expect(allowance.take(1)).toBe(false);
    allowance.onApplied(bytes(1), 2);
    expect(allowance.remaining(1)).toBe(3);
    expect([allowance.take(1), allowance.take(1), allowance.take(1), allowance.take(1)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });

  it('EncryptionAllowance ignores changes proposed by other nodes', () => {
    const allowance = new EncryptionAllowance();
    allowance.expect({ bytes: bytes(1), generation: 2, term: 1, encryptions: 3 });
    allowance.onApplied(bytes(9), 2);
    expect(allowance.remaining(1)).toBe(0);
    // The expected change can no longer apply once generation 2 is taken.
    allowance.onApplied(bytes(1), 2);
    expect(allowance.remaining(1)).toBe(0);
  });

  it('EncryptionAllowance moves to the new term on its own rotation and drops the old rest', () => {
    const allowance = new EncryptionAllowance();
    allowance.expect({ bytes: bytes(1), generation: 2, term: 1, encryptions: 5 });
    allowance.onApplied(bytes(1), 2);
    allowance.expect({ bytes: bytes(2), generation: 3, term: 2, encryptions: 7 });
    allowance.onApplied(bytes(2), 3);
    expect(allowance.remaining(1)).toBe(0);
    expect(allowance.remaining(2)).toBe(7);
    expect(allowance.take(1)).toBe(false);
  });

  it('EncryptionAllowance adds blocks under the same term', () => {
    const allowance = new EncryptionAllowance();
    allowance.expect({ bytes: bytes(1), generation: 2, term: 1, encryptions: 5 });
    allowance.onApplied(bytes(1), 2);
    allowance.expect({ bytes: bytes(2), generation: 3, term: 1, encryptions: 5 });
    allowance.onApplied(bytes(2), 3);
    expect(allowance.remaining(1)).toBe(10);
  });

  it('EncryptionAllowance keeps a bounded number of pending changes and clears on seal', () => {
    const allowance = new EncryptionAllowance();
    for (let i = 0; i <= pendingReservationsMax; i++) {
      allowance.expect({ bytes: bytes(i), generation: 2, term: 1, encryptions: 1 });
    }
    allowance.onApplied(bytes(0), 2);
    expect(allowance.remaining(1)).toBe(0);
    allowance.expect({ bytes: bytes(50), generation: 3, term: 1, encryptions: 4 });
    allowance.onApplied(bytes(50), 3);
    expect(allowance.remaining(1)).toBe(4);
    allowance.clear();
    expect(allowance.remaining(1)).toBe(0);
  });
});
