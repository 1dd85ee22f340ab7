/**
 * Goal: apply results survive their byte encoding, and garbage never decodes into a result.
 * Method: round-trip one result of each kind; decode seeded random bytes. No I/O.
 */
import { SeededRandom } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import {
  casFailed,
  decodeApplyResult,
  encodeApplyResult,
  malformed,
  sessionRefusal,
  type ApplyResult,
} from './apply_result.ts';

const results: ApplyResult[] = [
  { ok: true, outcome: 'applied' },
  { ok: true, outcome: 'empty' },
  { ok: true, outcome: 'skipped' },
  casFailed(2, 'kv/日本', 17),
  casFailed(0, 'a', undefined),
  malformed('command kind 9 is unknown'),
  { ok: true, outcome: 'registered', clientId: 2 ** 40 },
  sessionRefusal('COFFER_STORAGE_SESSION_EXPIRED', { clientId: 7, sequence: 3 }),
  sessionRefusal('COFFER_STORAGE_RESPONSE_DISCARDED', { clientId: 7, sequence: 0 }),
  sessionRefusal('COFFER_STORAGE_TOO_MANY_OUTSTANDING', { clientId: 1, sequence: 64 }),
];

// Real disk and thousands of cases: generous bounds for a loaded CI machine.
describe('apply result codec', { timeout: 30_000 }, () => {
  it('decodeApplyResult returns what encodeApplyResult encoded', () => {
    for (const result of results) {
      expect(decodeApplyResult(encodeApplyResult(result))).toEqual(result);
    }
  });

  it('decodeApplyResult returns undefined for bytes that are not a result', () => {
    expect(decodeApplyResult(new Uint8Array(0))).toBeUndefined();
    expect(decodeApplyResult(Uint8Array.of(9))).toBeUndefined();
    expect(decodeApplyResult(Uint8Array.of(0, 0))).toBeUndefined();
    const random = new SeededRandom(3);
    for (let i = 0; i < 5_000; i++) {
      const bytes = Uint8Array.from({ length: random.int(24) }, () => random.int(256));
      expect(() => decodeApplyResult(bytes)).not.toThrow();
    }
  });
});
