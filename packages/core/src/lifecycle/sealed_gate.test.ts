/**
 * Goal: the sealed gate lets only status, init, unseal and health through while sealed, refuses
 * everything else with COFFER_CORE_SEALED, and lets everything through once unsealed.
 * Method: the pure function on a table of requests, including path tricks; no I/O.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { gateRequest } from './sealed_gate.ts';

describe('gateRequest', () => {
  it('gateRequest lets the sealed endpoints through while sealed', () => {
    for (const path of ['sys/seal-status', '/sys/init', 'sys/unseal/', 'sys/health']) {
      expect(gateRequest({ operation: 'read', path }, { sealed: true })).toEqual({ ok: true });
    }
  });

  it('gateRequest refuses every other path with COFFER_CORE_SEALED while sealed', () => {
    const paths = [
      'secret/data/a',
      'sys/unseal/../secret/data/a',
      'sys/unsealx',
      'SYS/UNSEAL',
      'sys/generate-root/attempt',
      'auth/token/lookup-self',
      '',
      'x'.repeat(5000),
    ];
    for (const path of paths) {
      const decision = gateRequest({ operation: 'write', path }, { sealed: true });
      expect(decision).toMatchObject({ ok: false, code: CoreErrorCode.sealed });
      expect(decision.ok ? '' : decision.message.length).toBeLessThan(300);
    }
  });

  it('gateRequest lets everything through once unsealed', () => {
    const decision = gateRequest({ operation: 'read', path: 'secret/data/a' }, { sealed: false });
    expect(decision).toEqual({ ok: true });
  });
});
