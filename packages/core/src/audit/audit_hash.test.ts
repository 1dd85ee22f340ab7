/**
 * Goal: auditHash is HMAC-SHA256 in Vault's `hmac-sha256:<hex>` form; hashStrings hashes every
 * string at any depth and keeps numbers, booleans, null and keys; the genesis is the hex of the
 * HMAC of its fixed input.
 * Method: RFC 4231 test case 2 as a known answer; hand-built inputs.
 */
import { createHmac } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  auditChainGenesis,
  auditChainGenesisInput,
  auditHash,
  hashStrings,
  newAuditSalt,
} from './audit_hash.ts';

describe('auditHash', () => {
  it('auditHash matches RFC 4231 test case 2 with the hmac-sha256 prefix', () => {
    expect(auditHash(new TextEncoder().encode('Jefe'), 'what do ya want for nothing?')).toBe(
      'hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('auditHash differs between salts', () => {
    expect(auditHash(newAuditSalt(), 'x')).not.toBe(auditHash(newAuditSalt(), 'x'));
  });

  it('hashStrings hashes strings at any depth and keeps other values and keys', () => {
    const salt = newAuditSalt();
    expect(hashStrings(salt, { a: 's', b: [1, 't', { c: true, d: null }], e: { f: 'u' } })).toEqual(
      {
        a: auditHash(salt, 's'),
        b: [1, auditHash(salt, 't'), { c: true, d: null }],
        e: { f: auditHash(salt, 'u') },
      },
    );
  });

  it('auditChainGenesis is the hex of the HMAC of the genesis input', () => {
    const salt = newAuditSalt();
    expect(`hmac-sha256:${auditChainGenesis(salt)}`).toBe(auditHash(salt, auditChainGenesisInput));
  });

  it('hashStrings keeps a "__proto__" key and hashes what it holds (review finding 5)', () => {
    const salt = new Uint8Array(32).fill(7);
    const data = JSON.parse('{"__proto__":{"password":"HIDDEN-CANARY"},"visible":"V"}') as unknown;
    const hashed = hashStrings(salt, data);
    const line = JSON.stringify(hashed);
    expect(line).toContain('"__proto__"');
    expect(line).toContain(auditHash(salt, 'HIDDEN-CANARY'));
    expect(line).not.toContain('HIDDEN-CANARY');
    expect(Object.getPrototypeOf(hashed)).toBe(Object.prototype);
  });

  it('auditHash of the empty string is the HMAC of no bytes (remembered per salt)', () => {
    const salt = newAuditSalt();
    const expected = `hmac-sha256:${createHmac('sha256', salt).update('').digest('hex')}`;
    expect(auditHash(salt, '')).toBe(expected);
    expect(auditHash(salt, '')).toBe(expected);
    expect(auditHash(newAuditSalt(), '')).not.toBe(expected);
  });
});
