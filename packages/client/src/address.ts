/**
 * Parsing of the server address that `--address` and `COFFER_ADDR` give: `host:port`,
 * `https://host:port` or `[v6]:port`. Coffer serves gRPC over TLS only, so `http://` is refused
 * rather than silently upgraded.
 */
import { isIPv6 } from 'node:net';

import { ClientErrorCode, CofferClientError } from './errors.ts';

/** The default port of the gRPC listener (PRODUCT.md "Ports"), used when none is given. */
export const defaultGrpcPort = 8200;

/** A parsed server address. */
export interface ServerAddress {
  /** The host: a DNS name, an IPv4 address, or an IPv6 address without brackets. */
  readonly host: string;
  readonly port: number;
  /** The grpc-js target, `host:port` (IPv6 in brackets). */
  readonly target: string;
}

const addressPattern =
  /^(?:(?<scheme>[A-Za-z][A-Za-z0-9+.-]*):\/\/)?(?:\[(?<ipv6>[^\]]*)\]|(?<host>[A-Za-z0-9.-]+))(?::(?<port>[0-9]{1,5}))?\/?$/;
const hostLabelPattern = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

function invalidAddress(address: string, why: string): CofferClientError {
  return new CofferClientError(
    ClientErrorCode.invalidAddress,
    `Give the server address as host:port or https://host:port (e.g. 127.0.0.1:8200): ` +
      `"${address}" ${why}`,
  );
}

function isHostName(host: string): boolean {
  return host.length <= 253 && host.split('.').every((label) => hostLabelPattern.test(label));
}

/**
 * Parses `address`; throws a {@link CofferClientError} with code COFFER_CLIENT_INVALID_ADDRESS
 * when it is not one of the accepted forms. A missing port means {@link defaultGrpcPort}.
 */
export function parseServerAddress(address: string): ServerAddress {
  if (address.includes('@')) {
    // NB: user info may hold a password; the message does not repeat the address.
    throw new CofferClientError(
      ClientErrorCode.invalidAddress,
      'Give the server address as host:port or https://host:port without user info: ' +
        'Coffer takes credentials from a token, not from the address',
    );
  }
  const groups = addressPattern.exec(address)?.groups;
  if (groups === undefined) {
    throw invalidAddress(address, 'is not an address');
  }
  const scheme = groups['scheme']?.toLowerCase();
  if (scheme === 'http') {
    throw invalidAddress(address, 'uses http://, but Coffer serves TLS only');
  }
  if (scheme !== undefined && scheme !== 'https') {
    throw invalidAddress(address, `has the scheme "${scheme}", not https`);
  }
  const port = groups['port'] === undefined ? defaultGrpcPort : Number(groups['port']);
  if (port < 1 || port > 65535) {
    throw invalidAddress(address, `has the port ${port}, not 1 to 65535`);
  }
  const ipv6 = groups['ipv6'];
  if (ipv6 !== undefined) {
    if (!isIPv6(ipv6)) {
      throw invalidAddress(address, 'has no valid IPv6 address in brackets');
    }
    return { host: ipv6, port, target: `[${ipv6}]:${port}` };
  }
  const host = groups['host'] ?? '';
  if (!isHostName(host)) {
    throw invalidAddress(address, 'has no valid host name');
  }
  return { host, port, target: `${host}:${port}` };
}
