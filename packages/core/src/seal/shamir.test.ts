/**
 * Goal: share configs follow the documented bounds and the Shamir adapter splits and combines
 * 32-byte keys, including the unsplit 1-of-1 key.
 * Method: a table of configs; round trips with random keys.
 */
import { describe, expect, it } from 'vitest';

import { SecretKey } from '../barrier/secret_key.ts';
import { CoreErrorCode } from '../errors.ts';
import {
  combineShares,
  shareConfigDefault,
  shareSizeBytes,
  splitSecret,
  validateShareConfig,
} from './shamir.ts';

describe('validateShareConfig', () => {
  it('validateShareConfig accepts 2 <= T <= N <= 255 and 1 of 1, and refuses the rest', () => {
    const valid = [shareConfigDefault, { shares: 1, threshold: 1 }, { shares: 2, threshold: 2 }];
    valid.push({ shares: 255, threshold: 255 }, { shares: 255, threshold: 2 });
    for (const config of valid) {
      expect(() => {
        validateShareConfig(config);
      }).not.toThrow();
    }
    const invalid = [
      { shares: 2, threshold: 1 },
      { shares: 5, threshold: 1 },
      { shares: 3, threshold: 4 },
      { shares: 256, threshold: 3 },
      { shares: 0, threshold: 0 },
      { shares: 5.5, threshold: 3 },
      { shares: 5, threshold: Number.NaN },
    ];
    for (const config of invalid) {
      expect(() => {
        validateShareConfig(config);
      }).toThrow(expect.objectContaining({ code: CoreErrorCode.sealConfigInvalid }));
    }
  });
});

describe('splitSecret and combineShares', () => {
  it('combineShares of any threshold shares returns the secret', async () => {
    const secret = SecretKey.generate();
    const shares = await splitSecret(secret, { shares: 5, threshold: 3 });
    expect(shares.map((share) => share.sizeBytes)).toEqual([33, 33, 33, 33, 33]);
    expect(shareSizeBytes({ shares: 5, threshold: 3 }, 32)).toBe(33);
    const combined = await combineShares([shares[4], shares[0], shares[2]] as SecretKey[]);
    expect(combined?.equals(secret)).toBe(true);
  });

  it('splitSecret of 1 of 1 returns a copy of the key itself', async () => {
    const secret = SecretKey.generate();
    const [share] = await splitSecret(secret, { shares: 1, threshold: 1 });
    expect(share?.sizeBytes).toBe(32);
    expect(share?.equals(secret)).toBe(true);
    secret.zero();
    expect(share?.isZeroed).toBe(false);
  });

  it('combineShares returns undefined for repeated x coordinates and unequal sizes', async () => {
    const shares = await splitSecret(SecretKey.generate(), { shares: 3, threshold: 2 });
    const first = shares[0] as SecretKey;
    expect(await combineShares([first, first.clone()])).toBeUndefined();
    expect(await combineShares([first, SecretKey.generate(20)])).toBeUndefined();
    expect(await combineShares([])).toBeUndefined();
  });
});
