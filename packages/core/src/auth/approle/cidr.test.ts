/**
 * Goal: CIDR parsing normalizes valid IPv4 and IPv6 blocks and bare addresses and refuses
 * invalid ones; address checks match inside/outside for both families, IPv4-mapped IPv6 and
 * zoned addresses, and refuse a missing address; cidrsWithin keeps a block inside another.
 * Method: table-driven checks of the pure functions.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { addressAllowed, cidrsWithin, parseCidrs } from './cidr.ts';

describe('cidr', () => {
  it('parseCidrs normalizes blocks and bare addresses and drops duplicates', () => {
    expect(
      parseCidrs([' 10.0.0.0/8', '192.168.1.7', '2001:DB8::/32', '10.0.0.0/8', '::1'], 'f'),
    ).toEqual(['10.0.0.0/8', '192.168.1.7/32', '2001:db8::/32', '::1/128']);
  });

  it.each([
    '10.0.0.0/33',
    '10.0.0/8',
    'fe80::1%eth0/64',
    '2001:db8::/129',
    'host',
    '10.0.0.0/',
    '1.2.3.4/-1',
  ])('parseCidrs refuses %s with INVALID_REQUEST', (value) => {
    expect(() => parseCidrs([value], 'secret_id_bound_cidrs')).toThrow(
      expect.objectContaining({ code: CoreErrorCode.invalidRequest }),
    );
  });

  it('addressAllowed matches IPv4 and IPv6 inside and outside', () => {
    const cidrs = parseCidrs(['10.1.0.0/16', '2001:db8:1::/48'], 'f');
    expect(addressAllowed(cidrs, '10.1.200.3')).toBe(true);
    expect(addressAllowed(cidrs, '10.2.0.1')).toBe(false);
    expect(addressAllowed(cidrs, '2001:db8:1::42')).toBe(true);
    expect(addressAllowed(cidrs, '2001:db8:2::42')).toBe(false);
    expect(addressAllowed(cidrs, '::ffff:10.1.2.3')).toBe(true);
    expect(addressAllowed(parseCidrs(['fe80::/10'], 'f'), 'fe80::1%eth0')).toBe(true);
  });

  it('addressAllowed refuses a missing or malformed address only when bound', () => {
    expect(addressAllowed([], undefined)).toBe(true);
    expect(addressAllowed(['10.0.0.0/8'], undefined)).toBe(false);
    expect(addressAllowed(['10.0.0.0/8'], 'not-an-ip')).toBe(false);
  });

  it('cidrsWithin accepts only blocks inside an outer block of the same family', () => {
    expect(cidrsWithin(['10.1.2.0/24'], ['10.0.0.0/8'])).toBe(true);
    expect(cidrsWithin(['10.0.0.0/8'], ['10.1.0.0/16'])).toBe(false);
    expect(cidrsWithin(['11.0.0.0/24'], ['10.0.0.0/8'])).toBe(false);
    expect(cidrsWithin(['2001:db8::/64'], ['10.0.0.0/8', '2001:db8::/32'])).toBe(true);
    expect(cidrsWithin(['10.0.0.0/24'], [])).toBe(true);
  });
});
