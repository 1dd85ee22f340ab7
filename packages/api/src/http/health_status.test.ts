/**
 * Goal: the status endpoints answer as Vault's do: the status code of each node state (200
 * active, 429 standby, 501 uninitialized, 503 sealed), the query parameters that override them,
 * refusals of bad query values that never repeat the value, and bodies with Vault's fields.
 * Method: the pure functions of health_status.ts on hand-made states and queries (the states a
 * single real node cannot reach, such as standby, are only reachable here).
 */
import { describe, expect, it } from 'vitest';

import {
  healthBody,
  healthCodesDefault,
  healthStatusCode,
  parseHealthQuery,
  parseStatusView,
  sealStatusBody,
  type StatusView,
} from './health_status.ts';

const active = { initialized: true, sealed: false, standby: false };
const standby = { initialized: true, sealed: false, standby: true };
const sealed = { initialized: true, sealed: true, standby: false };
const uninitialized = { initialized: false, sealed: true, standby: false };

function codesOf(query: string): typeof healthCodesDefault {
  const parsed = parseHealthQuery(new URLSearchParams(query));
  if (!parsed.ok) {
    throw new Error(parsed.message);
  }
  return parsed.codes;
}

describe('healthStatusCode', () => {
  it('healthStatusCode maps each node state to Vault default code', () => {
    expect(healthStatusCode(active)).toBe(200);
    expect(healthStatusCode(standby)).toBe(429);
    expect(healthStatusCode(sealed)).toBe(503);
    expect(healthStatusCode(uninitialized)).toBe(501);
  });

  it('healthStatusCode answers a standby with the active code when standbyok is set', () => {
    expect(healthStatusCode(standby, codesOf('standbyok=true'))).toBe(200);
    expect(healthStatusCode(standby, codesOf('standbyok=true&activecode=204'))).toBe(204);
    expect(healthStatusCode(standby, codesOf('standbyok'))).toBe(200);
    expect(healthStatusCode(standby, codesOf('standbyok=false'))).toBe(429);
  });

  it('healthStatusCode uses the overriding code of each state', () => {
    const codes = codesOf('activecode=201&standbycode=299&sealedcode=298&uninitcode=297');
    expect(healthStatusCode(active, codes)).toBe(201);
    expect(healthStatusCode(standby, codes)).toBe(299);
    expect(healthStatusCode(sealed, codes)).toBe(298);
    expect(healthStatusCode(uninitialized, codes)).toBe(297);
  });

  it('healthStatusCode checks initialization before the seal (an uninitialized node is sealed)', () => {
    expect(healthStatusCode(uninitialized, codesOf('sealedcode=299'))).toBe(501);
  });
});

describe('parseHealthQuery', () => {
  it('parseHealthQuery takes the first value of a repeated parameter and ignores unknown ones', () => {
    expect(codesOf('sealedcode=299&sealedcode=abc&color=blue').sealed).toBe(299);
  });

  it.each([
    'sealedcode=abc',
    'sealedcode=99',
    'activecode=600',
    'uninitcode=-1',
    'standbycode=2000',
    'activecode=',
    'drsecondarycode=x',
    'standbyok=maybe',
    'perfstandbyok=2',
  ])('parseHealthQuery refuses %s without repeating the value', (query) => {
    const parsed = parseHealthQuery(new URLSearchParams(query));
    const name = query.split('=')[0] ?? '';
    const canary = parseHealthQuery(new URLSearchParams(`${name}=canary-7c1e`));
    expect(parsed.ok).toBe(false);
    expect(canary.ok).toBe(false);
    // NB: the message is the same whatever the value, so it cannot carry the value.
    expect(parsed).toEqual(canary);
  });
});

const view: StatusView = {
  initialized: true,
  sealed: true,
  standby: false,
  type: 'shamir',
  clusterId: 'cluster-1',
  threshold: 3,
  shares: 5,
  progress: 1,
  nonce: 'nonce-1',
  storedType: 'shamir',
  sealMigration: 'none',
};

describe('status bodies', () => {
  it('parseStatusView reads core status data and fills Vault defaults', () => {
    const data = {
      initialized: false,
      sealed: true,
      standby: false,
      type: 'shamir',
      cluster_id: null,
      t: null,
      n: null,
      progress: 0,
      nonce: null,
    };
    expect(parseStatusView(data)).toEqual({
      initialized: false,
      sealed: true,
      standby: false,
      type: 'shamir',
      clusterId: undefined,
      threshold: 0,
      shares: 0,
      progress: 0,
      nonce: '',
      storedType: undefined,
      sealMigration: 'none',
    });
  });

  it('parseStatusView refuses data without the state flags', () => {
    expect(parseStatusView(undefined)).toBeUndefined();
    expect(parseStatusView({ initialized: 'yes', sealed: true, standby: false })).toBeUndefined();
  });

  it('healthBody has Vault fields', () => {
    const body = healthBody(view, { version: '1.2.3', nowMs: 1_700_000_000_999 });
    expect(body).toMatchObject({
      initialized: true,
      sealed: true,
      standby: false,
      server_time_utc: 1_700_000_000,
      version: '1.2.3',
      cluster_id: 'cluster-1',
    });
  });

  it('sealStatusBody has Vault fields', () => {
    const body = sealStatusBody(view, { version: '1.2.3', nowMs: 0 });
    expect(body).toMatchObject({
      type: 'shamir',
      initialized: true,
      sealed: true,
      t: 3,
      n: 5,
      progress: 1,
      nonce: 'nonce-1',
      version: '1.2.3',
      cluster_id: 'cluster-1',
      recovery_seal: false,
      migration: false,
      seal_migration: 'none',
      stored_type: 'shamir',
    });
  });

  it('sealStatusBody shows a node whose configured seal differs from its stored one', () => {
    const migrated = { ...view, storedType: 'pkcs11', sealMigration: 'config_differs' };
    const body = sealStatusBody(migrated, { version: '1.2.3', nowMs: 0 });
    expect(body).toMatchObject({
      type: 'shamir',
      stored_type: 'pkcs11',
      migration: true,
      seal_migration: 'config_differs',
    });
  });
});
