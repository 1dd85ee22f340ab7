/**
 * Bound CIDRs of a token: the addresses it may be used from. Parsed with node:net's BlockList,
 * for IPv4 and IPv6 alike (an IPv4-mapped IPv6 client address matches an IPv4 block).
 *
 * Invariant: a token with bound CIDRs is refused when the client address is unknown.
 */
import { BlockList, isIP } from 'node:net';

import { CoreError, CoreErrorCode } from '../errors.ts';

interface ParsedCidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

function parseCidr(cidr: string): ParsedCidr | undefined {
  const [address = '', prefixText, extra] = cidr.trim().split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) {
    return undefined;
  }
  const bits = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > bits ||
    (prefixText !== undefined && !/^\d+$/.test(prefixText))
  ) {
    return undefined;
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Checks and normalizes a list of CIDRs; throws COFFER_CORE_INVALID_REQUEST naming the bad one. */
export function checkBoundCidrs(cidrs: readonly string[]): string[] {
  return cidrs.map((cidr) => {
    const parsed = parseCidr(cidr);
    if (parsed === undefined) {
      throw new CoreError(
        CoreErrorCode.invalidRequest,
        `Send bound CIDRs as address/prefix: "${cidr.slice(0, 64)}" is not one`,
      );
    }
    return `${parsed.address}/${parsed.prefix}`;
  });
}

/** True when address may use a token bound to cidrs (empty: anywhere). */
export function isAddressAllowed(cidrs: readonly string[], address: string | undefined): boolean {
  if (cidrs.length === 0) {
    return true;
  }
  if (address === undefined) {
    return false;
  }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const client = mapped ?? address;
  const family = isIP(client);
  if (family === 0) {
    return false;
  }
  const list = new BlockList();
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    if (parsed !== undefined) {
      list.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }
  return list.check(client, family === 4 ? 'ipv4' : 'ipv6');
}
