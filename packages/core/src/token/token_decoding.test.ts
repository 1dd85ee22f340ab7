/**
 * Goal: stored token entries and leases are checked after every read (STYLE.md 5.8): corrupt
 * values are refused with COFFER_CORE_INTERNAL naming the field, never returned; id, accessor
 * and CIDR shapes are checked before use; and TokenStore and ExpirationManager fit the router's
 * ports as they are (a compile-time check).
 * Method: hand-made corrupt values; assignments to the router's port types.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import type { ExpirationManager } from '../lease/expiration_manager.ts';
import { checkStoredLease } from '../lease/stored_lease.ts';
import type { RouterLeases, RouterTokens } from '../router/router_ports.ts';
import { checkBoundCidrs, isAddressAllowed } from './bound_cidrs.ts';
import { checkTokenEntry, rootTokenEntry, type TokenEntry } from './token_entry.ts';
import {
  isAccessorShaped,
  isTokenIdShaped,
  newAccessor,
  newTokenId,
  tokenIdLength,
} from './token_id.ts';
import type { TokenStore } from './token_store.ts';

// Compile-time: the router owner wires these as they are.
export type TokensFitRouter = TokenStore extends RouterTokens<TokenEntry> ? true : never;
export type LeasesFitRouter = ExpirationManager extends RouterLeases ? true : never;
const fits: [TokensFitRouter, LeasesFitRouter] = [true, true];

describe('checkTokenEntry', () => {
  it('checkTokenEntry accepts a well-formed entry', () => {
    expect(fits).toEqual([true, true]);
    const entry = rootTokenEntry({ key: 'k', accessor: 'a', nowMs: 1 });
    expect(checkTokenEntry(JSON.parse(JSON.stringify(entry)))).toEqual(entry);
  });

  it('checkTokenEntry refuses corrupt entries naming the field', () => {
    const entry = rootTokenEntry({ key: 'k', accessor: 'a', nowMs: 1 });
    const corrupt: unknown[] = [
      null,
      [],
      'entry',
      { ...entry, version: 2 },
      { ...entry, key: 7 },
      { ...entry, expireMs: -1 },
      { ...entry, numUses: 1.5 },
      { ...entry, policies: 'root' },
      { ...entry, policies: [1] },
      { ...entry, kind: 'batch' },
      { ...entry, metadata: [] },
    ];
    for (const value of corrupt) {
      expect(() => checkTokenEntry(value)).toThrow(
        expect.objectContaining({ code: CoreErrorCode.internal }),
      );
    }
  });
});

describe('checkStoredLease', () => {
  const lease = {
    version: 1,
    leaseId: 'db/creds/ro/x',
    kind: 'secret',
    path: 'creds/ro',
    issuedMs: 1,
    expireMs: 2,
    maxExpireMs: 0,
    ttlSeconds: 1,
    renewable: true,
    internal: {},
    dueMs: 2,
    revokeFailures: 0,
  };

  it('checkStoredLease accepts a well-formed lease and refuses corrupt ones', () => {
    expect(checkStoredLease(lease)).toEqual(lease);
    for (const value of [
      undefined,
      { ...lease, version: 0 },
      { ...lease, leaseId: 1 },
      { ...lease, kind: 'other' },
      { ...lease, dueMs: 'soon' },
      { ...lease, revokeFailures: -1 },
      { ...lease, renewable: 'yes' },
      { ...lease, internal: null },
    ]) {
      expect(() => checkStoredLease(value)).toThrow(
        expect.objectContaining({ code: CoreErrorCode.internal }),
      );
    }
  });
});

describe('token id shapes', () => {
  it('isTokenIdShaped and isAccessorShaped accept only their shapes', () => {
    const id = newTokenId();
    expect(id).toHaveLength(tokenIdLength);
    expect(isTokenIdShaped(id)).toBe(true);
    expect(isTokenIdShaped(id.replace('cfr.', 'hvs.'))).toBe(false);
    expect(isTokenIdShaped(`${id.slice(0, -1)}!`)).toBe(false);
    expect(isAccessorShaped(newAccessor())).toBe(true);
    expect(isAccessorShaped('short')).toBe(false);
    expect(isAccessorShaped(id)).toBe(false);
  });

  it('checkBoundCidrs normalizes CIDRs and refuses malformed ones', () => {
    expect(checkBoundCidrs(['10.0.0.1', ' 10.0.0.0/8', '::1/128'])).toEqual([
      '10.0.0.1/32',
      '10.0.0.0/8',
      '::1/128',
    ]);
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'x', '10.0.0.0/8/1', '10.0.0.0/a', '::1/129']) {
      expect(() => checkBoundCidrs([bad])).toThrow(
        expect.objectContaining({ code: CoreErrorCode.invalidRequest }),
      );
    }
    expect(isAddressAllowed([], undefined)).toBe(true);
    expect(isAddressAllowed(['10.0.0.0/8'], '10.255.0.1')).toBe(true);
    expect(isAddressAllowed(['10.0.0.0/8'], '11.0.0.1')).toBe(false);
  });
});
