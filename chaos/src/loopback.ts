/**
 * Guards for chaos tests: they start real processes and inject faults, but only ever on this
 * machine's loopback addresses (STYLE.md 1.2, 8.7).
 */
import { isIP } from 'node:net';

/**
 * Reports whether a host names a loopback address: "localhost", 127.0.0.0/8 or "::1".
 *
 * NB: a hostname other than "localhost" is refused without a DNS lookup, since a lookup could
 * point anywhere.
 */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') {
    return true;
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) === 4) {
    return bare.startsWith('127.');
  }
  if (isIP(bare) === 6) {
    return bare === '::1' || bare === '0:0:0:0:0:0:0:1';
  }
  return false;
}
