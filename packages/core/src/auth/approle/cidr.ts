/**
 * CIDR blocks of an AppRole role or secret_id: parsed and normalized when a role or secret_id is
 * written, checked against the caller's address at login with node:net BlockList (IPv4 and IPv6;
 * an IPv4-mapped IPv6 address matches its IPv4 block).
 *
 * Invariant: a stored block is `address/prefix` with a valid address and an in-range prefix, so
 * checks at login never throw. A bare address is stored as a host block (/32 or /128).
 */
import { BlockList, isIP } from 'node:net';

import { CoreError, CoreErrorCode } from '../../errors.ts';

/** The family name BlockList wants for an isIP() result. */
function familyOf(address: string): 'ipv4' | 'ipv6' | undefined {
  const version = isIP(address);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined;
}

/** One block split into its address, prefix length and family. */
interface CidrBlock {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

function splitBlock(text: string): CidrBlock | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const family = familyOf(address);
  if (family === undefined || address.includes('%')) {
    return undefined;
  }
  const bits = family === 'ipv4' ? 32 : 128;
  if (slash === -1) {
    return { address, prefix: bits, family };
  }
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
    return undefined;
  }
  return { address, prefix: Number(prefixText), family };
}

/**
 * Validates and normalizes CIDR blocks (or bare addresses) given for `field`; refuses an invalid
 * one with COFFER_CORE_INVALID_REQUEST. Duplicates are dropped, the order is kept.
 */
export function parseCidrs(values: readonly string[], field: string): string[] {
  const blocks: string[] = [];
  for (const value of values) {
    const block = splitBlock(value.trim());
    if (block === undefined) {
      throw new CoreError(
        CoreErrorCode.invalidRequest,
        `Send CIDR blocks such as "10.0.0.0/8" or "2001:db8::/32" in "${field}": ${JSON.stringify(value.slice(0, 64))} is not one`,
      );
    }
    const normalized = `${block.address.toLowerCase()}/${block.prefix}`;
    if (!blocks.includes(normalized)) {
      blocks.push(normalized);
    }
  }
  return blocks;
}

function blockListOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const block = splitBlock(cidr);
    if (block !== undefined) {
      list.addSubnet(block.address, block.prefix, block.family);
    }
  }
  return list;
}

/** The caller's address without an IPv6 zone (`fe80::1%eth0`), or undefined if not an IP. */
function clientIp(clientAddress: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const percent = clientAddress.indexOf('%');
  const address = percent === -1 ? clientAddress : clientAddress.slice(0, percent);
  const family = familyOf(address);
  return family === undefined ? undefined : { address, family };
}

/**
 * True when the caller may use a credential bound to `cidrs`: no blocks means anywhere; with
 * blocks, a missing or malformed address is refused.
 */
export function addressAllowed(
  cidrs: readonly string[],
  clientAddress: string | undefined,
): boolean {
  if (cidrs.length === 0) {
    return true;
  }
  const ip = clientAddress === undefined ? undefined : clientIp(clientAddress);
  if (ip === undefined) {
    return false;
  }
  return blockListOf(cidrs).check(ip.address, ip.family);
}

/**
 * True when every block of `inner` lies inside some block of `outer` (or `outer` is empty:
 * no restriction). Used to keep a secret_id's cidr_list within its role's blocks.
 */
export function cidrsWithin(inner: readonly string[], outer: readonly string[]): boolean {
  if (outer.length === 0) {
    return true;
  }
  const outerBlocks = outer.map(splitBlock).filter((b) => b !== undefined);
  return inner.every((text) => {
    const block = splitBlock(text);
    return (
      block !== undefined &&
      outerBlocks.some(
        (o) =>
          o.family === block.family &&
          o.prefix <= block.prefix &&
          blockListOf([`${o.address}/${o.prefix}`]).check(block.address, block.family),
      )
    );
  });
}
