/**
 * Join tokens and the messages of a join (docs/design/cluster.md §3), as kubeadm's bootstrap
 * tokens work: the token an operator hands to a new node holds the leader API addresses, the
 * SHA-256 of the cluster CA (the pin) and a 32-byte secret. The leader keeps only a hash of the
 * secret (as barrier ciphertext, with an expiry, used once).
 *
 * Both directions are authenticated with an HMAC under the auth key (a hash of the secret),
 * so the joiner needs no certificate of the leader's API port: a man in the middle can neither
 * forge the grant nor read its secret part (encrypted under a key derived from the same auth
 * key), and the CA in the grant must hash to the pin.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
  X509Certificate,
} from 'node:crypto';

import { CoreError, CoreErrorCode } from '../errors.ts';

/** What a join token carries. The secret is secret; the rest is not. */
export interface JoinToken {
  /** API addresses (host:port) of nodes to ask, the leader first. */
  readonly addresses: readonly string[];
  /** Hex SHA-256 of the DER of the cluster CA that issues now. */
  readonly caPin: string;
  /** Names the token's record on the leader (not secret). */
  readonly tokenId: string;
  /** 32 random bytes. Secret. */
  readonly secret: Uint8Array;
}

const tokenPrefix = 'cjt1.';
const tokenIdPattern = /^[0-9a-f]{16}$/;
const pinPattern = /^[0-9a-f]{64}$/;
const addressMax = 16;

/** The text form of a token: `cjt1.<base64url JSON>`. Secret as a whole. */
export function encodeJoinToken(token: JoinToken): string {
  const body = JSON.stringify({
    a: token.addresses,
    p: token.caPin,
    i: token.tokenId,
    s: Buffer.from(token.secret).toString('base64url'),
  });
  return tokenPrefix + Buffer.from(body, 'utf8').toString('base64url');
}

/** A token from its text; throws COFFER_CORE_JOIN_REFUSED (without echoing it) when malformed. */
export function decodeJoinToken(text: string): JoinToken {
  const trimmed = text.trim();
  if (!trimmed.startsWith(tokenPrefix)) {
    throw joinRefused('the join token does not start with "cjt1."; copy it whole');
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(trimmed.slice(tokenPrefix.length), 'base64url').toString('utf8'));
  } catch {
    throw joinRefused('the join token does not decode; copy it whole');
  }
  const fields = body as Partial<Record<'a' | 'p' | 'i' | 's', unknown>> | null;
  const addresses = fields?.a;
  const secret = typeof fields?.s === 'string' ? Buffer.from(fields.s, 'base64url') : undefined;
  if (
    !Array.isArray(addresses) ||
    addresses.length === 0 ||
    addresses.length > addressMax ||
    !addresses.every((a) => typeof a === 'string' && a.length > 0 && a.length < 256) ||
    typeof fields?.p !== 'string' ||
    !pinPattern.test(fields.p) ||
    typeof fields.i !== 'string' ||
    !tokenIdPattern.test(fields.i) ||
    secret?.length !== 32
  ) {
    throw joinRefused('the join token is incomplete; copy it whole or make a new one');
  }
  return { addresses: addresses as string[], caPin: fields.p, tokenId: fields.i, secret };
}

/** A new token's id and secret (the caller adds addresses and the pin). */
export function newJoinTokenParts(): { readonly tokenId: string; readonly secret: Uint8Array } {
  return { tokenId: randomBytes(8).toString('hex'), secret: randomBytes(32) };
}

/** The key both sides authenticate the join with; the leader stores only this. */
export function joinAuthKey(secret: Uint8Array): Buffer {
  return createHash('sha256').update('coffer join auth v1\0').update(secret).digest();
}

/** The pin of a CA certificate (PEM): hex SHA-256 of its DER. */
export function caPinOf(caCertPem: string): string {
  return createHash('sha256').update(new X509Certificate(caCertPem).raw).digest('hex');
}

/** HMAC of a message's fields (canonical JSON, `mac` left out). */
export function joinMac(authKey: Uint8Array, fields: Readonly<Record<string, unknown>>): string {
  const rest = Object.fromEntries(Object.entries(fields).filter(([key]) => key !== 'mac'));
  return createHmac('sha256', authKey).update(canonicalJson(rest)).digest('hex');
}

/**
 * JSON with every object's keys sorted, at every depth, so both ends MAC the same bytes.
 * NB: not JSON.stringify's key-list replacer, which would drop nested keys from the MAC.
 */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  // NB: undefined (which JSON.stringify returns as undefined) reads as null, as in arrays.
  return value === undefined ? 'null' : JSON.stringify(value);
}

/** Whether `mac` is the HMAC of `fields` (constant time). */
export function joinMacMatches(
  authKey: Uint8Array,
  fields: Readonly<Record<string, unknown>>,
  mac: string,
): boolean {
  const expected = Buffer.from(joinMac(authKey, fields), 'hex');
  const given = Buffer.from(mac, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function sealKeyOf(authKey: Uint8Array): Buffer {
  return createHash('sha256').update('coffer join seal v1\0').update(authKey).digest();
}

/** Encrypts a grant's secret part under the auth key (AES-256-GCM, nonce ‖ tag ‖ ciphertext). */
export function sealForJoiner(authKey: Uint8Array, plaintext: Uint8Array): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKeyOf(authKey), nonce);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64');
}

/** Opens what sealForJoiner sealed; throws COFFER_CORE_JOIN_REFUSED when it does not open. */
export function openFromLeader(authKey: Uint8Array, sealed: string): Buffer {
  const bytes = Buffer.from(sealed, 'base64');
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealKeyOf(authKey), bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]);
  } catch {
    throw joinRefused('the grant does not open with this token; make a new token');
  }
}

/** The error of a refused join; the message never holds the token or a secret. */
export function joinRefused(why: string): CoreError {
  return new CoreError(CoreErrorCode.joinRefused, `Cannot join the cluster: ${why}`);
}
