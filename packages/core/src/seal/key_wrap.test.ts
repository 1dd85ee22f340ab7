/**
 * Goal: software key wrapping authenticates everything it should: the key, the purpose, the
 * cluster and every stored byte, and tells a malformed blob apart from a wrong key.
 * Method: wrap random keys with node:crypto, then flip each byte, swap contexts and truncate.
 */
import { describe, expect, it } from 'vitest';

import { SecretKey } from '../barrier/secret_key.ts';
import { CoreErrorCode } from '../errors.ts';
import { unwrapWithKey, wrapWithKey, type WrapContext } from './key_wrap.ts';
import { WrapPurpose, validateBinding } from './seal_binding.ts';

const context: WrapContext = { purpose: WrapPurpose.rootKeyShamir, binding: { clusterId: 'c1' } };

function codeOf(call: () => unknown): string | undefined {
  try {
    call();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('wrapWithKey and unwrapWithKey', () => {
  it('unwrapWithKey returns the wrapped key under the same key and context', () => {
    const kek = SecretKey.generate();
    const secret = SecretKey.generate();
    const wrapped = wrapWithKey(kek, secret, context);
    expect(wrapped.byteLength).toBe(2 + 12 + 32 + 16);
    expect(unwrapWithKey(kek, wrapped, context)?.equals(secret)).toBe(true);
    expect(wrapWithKey(kek, secret, context).equals(wrapped)).toBe(false);
  });

  it('unwrapWithKey returns undefined for another key, purpose or cluster', () => {
    const kek = SecretKey.generate();
    const wrapped = wrapWithKey(kek, SecretKey.generate(), context);
    expect(unwrapWithKey(SecretKey.generate(), wrapped, context)).toBeUndefined();
    const breakGlass = { ...context, purpose: WrapPurpose.rootKeyBreakGlass };
    expect(unwrapWithKey(kek, wrapped, breakGlass)).toBeUndefined();
    expect(
      unwrapWithKey(kek, wrapped, { ...context, binding: { clusterId: 'c2' } }),
    ).toBeUndefined();
  });

  it('unwrapWithKey detects a flipped bit at every offset', () => {
    const kek = SecretKey.generate();
    const wrapped = wrapWithKey(kek, SecretKey.generate(), context);
    for (let offset = 0; offset < wrapped.byteLength; offset += 1) {
      const tampered = Buffer.from(wrapped);
      tampered[offset] = (tampered[offset] ?? 0) ^ 0x80;
      let result: SecretKey | undefined;
      const code = codeOf(() => (result = unwrapWithKey(kek, tampered, context)));
      if (offset < 2) {
        expect(code, `offset ${offset}`).toBe(CoreErrorCode.rootKeyBlobInvalid);
      } else {
        expect(result, `offset ${offset}`).toBeUndefined();
      }
    }
  });

  it('unwrapWithKey throws ROOT_KEY_BLOB_INVALID for truncated and oversized blobs', () => {
    const kek = SecretKey.generate();
    const wrapped = wrapWithKey(kek, SecretKey.generate(), context);
    for (const blob of [
      Buffer.alloc(0),
      wrapped.subarray(0, 2),
      wrapped.subarray(0, 2 + 12 + 16),
      Buffer.concat([wrapped, Buffer.alloc(5000)]),
    ]) {
      expect(codeOf(() => unwrapWithKey(kek, blob, context))).toBe(
        CoreErrorCode.rootKeyBlobInvalid,
      );
    }
  });
});

describe('validateBinding', () => {
  it('validateBinding accepts UUIDs and refuses empty, long or odd cluster ids', () => {
    expect(
      codeOf(() => {
        validateBinding({ clusterId: '6f1c2a5e-8d3b-4c47-9a0e-1f2b3c4d5e6f' });
      }),
    ).toBe(undefined);
    for (const clusterId of ['', 'a'.repeat(129), 'has space', 'nul\u0000', 'é']) {
      expect(
        codeOf(() => {
          validateBinding({ clusterId });
        }),
      ).toBe(CoreErrorCode.sealConfigInvalid);
    }
  });
});
