/**
 * Goal: the stored seal record round-trips, and every corrupt or inconsistent record is refused
 * with COFFER_CORE_SEAL_RECORD_INVALID (STYLE.md 8.6).
 * Method: encode, decode, and decode a table of bad inputs; no I/O.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { decodeSealRecord, encodeSealRecord, type SealRecord } from './seal_record.ts';

const good: SealRecord = {
  version: 1,
  type: 'pkcs11',
  clusterId: 'coffer-1',
  shares: { shares: 5, threshold: 3 },
  breakGlass: { shares: 3, threshold: 2 },
};

const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

describe('seal record', () => {
  it('decodeSealRecord round-trips what encodeSealRecord wrote', () => {
    expect(decodeSealRecord(encodeSealRecord(good))).toEqual(good);
    const shamir = { ...good, type: 'shamir' as const, breakGlass: undefined };
    expect(decodeSealRecord(bytes(shamir))).toEqual({ ...shamir, breakGlass: undefined });
  });

  it('decodeSealRecord refuses corrupt and inconsistent records', () => {
    const bad = [
      new Uint8Array([0xff, 0xfe]),
      new TextEncoder().encode('{"version":1'),
      bytes([]),
      bytes({ ...good, version: 2 }),
      bytes({ ...good, type: 'tpm' }),
      bytes({ ...good, clusterId: 'has space' }),
      bytes({ ...good, clusterId: 7 }),
      bytes({ ...good, shares: { shares: 2, threshold: 3 } }),
      bytes({ ...good, shares: undefined }),
      bytes({ ...good, breakGlass: { shares: 300, threshold: 3 } }),
      bytes({ ...good, type: 'shamir' }),
    ];
    for (const input of bad) {
      expect(() => decodeSealRecord(input)).toThrow(
        expect.objectContaining({ code: CoreErrorCode.sealRecordInvalid }),
      );
    }
  });
});
