/**
 * Self-signed TLS material for the client's tests: an ECDSA P-256 key and an X.509 v3
 * certificate that is its own trust anchor (CA:true), valid for the given DNS names and IP
 * addresses, built with node:crypto alone.
 *
 * NB: the client cannot import @coffer/api's certificate generator (STYLE.md 2.1), and a test
 * helper that needs no package keeps @coffer/client's dependencies at grpc-js and proto-loader.
 * The DER is the handful of RFC 5280 structures a TLS handshake needs, nothing more.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';

/** A certificate and its private key, both PEM. */
export interface TestTls {
  readonly certPem: string;
  /** Unencrypted PKCS#8. */
  readonly keyPem: string;
}

const dayMs = 24 * 60 * 60 * 1000;

/** One DER TLV with definite length (X.690 8.1.3). */
function der(tag: number, ...contents: readonly Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  if (body.length < 0x80) {
    return Buffer.concat([Buffer.from([tag, body.length]), body]);
  }
  const hex = body.length.toString(16);
  const length = Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
  return Buffer.concat([Buffer.from([tag, 0x80 | length.length]), length, body]);
}

const sequence = (...contents: readonly Buffer[]): Buffer => der(0x30, ...contents);

function objectId(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let value = arc >>> 7; value > 0; value >>>= 7) {
      groups.unshift(0x80 | (value & 0x7f));
    }
    bytes.push(...groups);
  }
  return der(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]/g, '').slice(2, 14);
  return der(0x17, Buffer.from(`${text}Z`, 'ascii'));
}

function ipBytes(address: string): Buffer {
  if (isIP(address) === 4) {
    return Buffer.from(address.split('.').map(Number));
  }
  const [head = '', tail = ''] = address.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const missing = 8 - groups(head).length - groups(tail).length;
  const all = [...groups(head), ...Array<string>(missing).fill('0'), ...groups(tail)];
  return Buffer.from(all.map((group) => group.padStart(4, '0')).join(''), 'hex');
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  const flag = critical ? [der(0x01, Buffer.from([0xff]))] : [];
  return sequence(objectId(id), ...flag, der(0x04, value));
}

function extensions(hosts: readonly string[]): Buffer {
  const names = hosts.map((host) =>
    isIP(host) === 0 ? der(0x82, Buffer.from(host, 'ascii')) : der(0x87, ipBytes(host)),
  );
  const caTrue = sequence(der(0x01, Buffer.from([0xff])));
  // digitalSignature (bit 0) and keyCertSign (bit 5); the last 2 bits of the byte are unused.
  const keyUsage = der(0x03, Buffer.from([0x02, 0x84]));
  return der(
    0xa3,
    sequence(
      extension('2.5.29.19', true, caTrue),
      extension('2.5.29.15', true, keyUsage),
      extension('2.5.29.17', false, sequence(...names)),
    ),
  );
}

function pem(label: string, bytes: Buffer): string {
  const lines = bytes.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Creates a self-signed certificate for `hosts` (default: localhost and 127.0.0.1). */
export function createTestTls(hosts: readonly string[] = ['localhost', '127.0.0.1']): TestTls {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecdsaWithSha256 = sequence(objectId('1.2.840.10045.4.3.2'));
  const name = sequence(
    der(0x31, sequence(objectId('2.5.4.3'), der(0x0c, Buffer.from(hosts[0] ?? 'coffer-test')))),
  );
  const nowMs = Date.now();
  // NB: a first byte of 0x40..0x7f keeps the serial positive without a leading zero byte.
  const serial = Buffer.concat([Buffer.from([0x40]), randomBytes(15)]);
  const tbs = sequence(
    der(0xa0, der(0x02, Buffer.from([0x02]))),
    der(0x02, serial),
    ecdsaWithSha256,
    name,
    sequence(utcTime(new Date(nowMs - dayMs)), utcTime(new Date(nowMs + dayMs))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions(hosts),
  );
  const signature = sign('sha256', tbs, privateKey);
  const cert = sequence(tbs, ecdsaWithSha256, der(0x03, Buffer.from([0x00]), signature));
  return {
    certPem: pem('CERTIFICATE', cert),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
