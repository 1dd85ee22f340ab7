/**
 * The audit HMAC: every secret-bearing string an audit device records is replaced by
 * `hmac-sha256:<hex>`, HMAC-SHA256 keyed by the device's salt (Vault's audit hashing; Coffer has
 * no `log_raw`). The sys/audit-hash endpoint runs {@link auditHash} so an operator who knows a
 * value can find it in the log without the log ever holding it.
 *
 * Invariant: a salt is 32 random bytes, made once when a device is enabled and kept in the
 * replicated, encrypted state; it never reaches a log line, a listing or an error.
 */
import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

/** The prefix of every hashed value in an audit line. */
export const auditHashPrefix = 'hmac-sha256:';

/** Bytes in a device salt. */
export const auditSaltSizeBytes = 32;

/** The value whose HMAC (hex, without the prefix) starts every device's hash chain. */
export const auditChainGenesisInput = 'coffer-audit-chain-genesis';

/** A new random device salt. */
export function newAuditSalt(): Uint8Array {
  return new Uint8Array(randomBytes(auditSaltSizeBytes));
}

/** What is derived from a salt once: its HMAC key object and the hash of the empty string. */
interface SaltKey {
  readonly key: KeyObject;
  /** `auditHash(salt, '')`: empty strings are common in response data (unset times). */
  readonly empty: string;
}

/**
 * The HMAC key object of each salt, made once: createHmac with a KeyObject skips importing the
 * key bytes on every call (about a third of an audit hash's cost). Weak, so a disabled device's
 * salt and key go with it.
 */
const saltKeys = new WeakMap<Uint8Array, SaltKey>();

function hmacHex(key: KeyObject, value: string): string {
  return auditHashPrefix + createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

function keyOf(salt: Uint8Array): SaltKey {
  let derived = saltKeys.get(salt);
  if (derived === undefined) {
    const key = createSecretKey(salt);
    derived = { key, empty: hmacHex(key, '') };
    saltKeys.set(salt, derived);
  }
  return derived;
}

/** The audit hash of value under salt: `hmac-sha256:<64 hex digits>`. */
export function auditHash(salt: Uint8Array, value: string): string {
  const derived = keyOf(salt);
  return value === '' ? derived.empty : hmacHex(derived.key, value);
}

/** Entries an {@link AuditHashMemo} keeps per kind; the oldest goes first. */
const memoEntriesMax = 4096;

/**
 * The audit hashes of the caller's token and accessor under one device's salt, remembered
 * across requests: a token makes many requests, and each writes two lines that both hash its id
 * and accessor.
 *
 * Invariant: the memo never holds a token id. A client token's hash is found by the token's
 * storage key (a keyed hash of the id, already in memory and in storage key names), which the
 * router knows only once the token store validated that id; the stored hash is the HMAC the
 * line would carry anyway. Accessors are public handles the token cache holds already.
 */
export class AuditHashMemo {
  readonly #salt: Uint8Array;
  readonly #tokens = new Map<string, string>();
  readonly #accessors = new Map<string, string>();
  /** Hashed request data by the request's data object: weak, so it lives as long as the request. */
  readonly #requestData = new WeakMap<object, unknown>();

  constructor(salt: Uint8Array) {
    this.#salt = salt;
  }

  /** auditHash(salt, token), where tokenKey is the token store's key of that token. */
  clientToken(tokenKey: string, token: string): string {
    return remembered(this.#tokens, tokenKey, () => auditHash(this.#salt, token));
  }

  /** auditHash(salt, accessor). */
  accessor(accessor: string): string {
    return remembered(this.#accessors, accessor, () => auditHash(this.#salt, accessor));
  }

  /**
   * hashStrings(salt, data) of a request's data, computed once for its request line and taken
   * back by its response line (`last`), which records the same data. NB: request data is
   * read-only (RequestData) and the router hands both lines the same object, so both lines
   * record the request as it arrived; the entry lives only between the two lines.
   */
  requestData(data: Readonly<Record<string, unknown>>, last: boolean): unknown {
    const known = this.#requestData.get(data);
    if (last) {
      this.#requestData.delete(data);
    }
    if (known !== undefined) {
      return known;
    }
    const hashed = hashStrings(this.#salt, data);
    if (!last) {
      this.#requestData.set(data, hashed);
    }
    return hashed;
  }
}

function remembered(memo: Map<string, string>, key: string, compute: () => string): string {
  const known = memo.get(key);
  if (known !== undefined) {
    return known;
  }
  const value = compute();
  memo.set(key, value);
  if (memo.size > memoEntriesMax) {
    // NB: insertion order; an entry still in use is computed again once evicted (exact either way).
    const oldest = memo.keys().next().value;
    if (oldest !== undefined) {
      memo.delete(oldest);
    }
  }
  return value;
}

/**
 * The `prev` of the first line of a device's chain: the hex HMAC of
 * {@link auditChainGenesisInput}. An operator reproduces it with sys/audit-hash and passes it to
 * `coffer audit verify --previous-hash` to prove no line was cut from the chain's start.
 */
export function auditChainGenesis(salt: Uint8Array): string {
  return auditHash(salt, auditChainGenesisInput).slice(auditHashPrefix.length);
}

/**
 * A copy of value with every string replaced by its audit hash, recursively through arrays and
 * objects; numbers, booleans and null are kept, object keys are kept (Vault does the same).
 */
export function hashStrings(salt: Uint8Array, value: unknown): unknown {
  if (typeof value === 'string') {
    return auditHash(salt, value);
  }
  if (Array.isArray(value)) {
    return value.map((item: unknown) => hashStrings(salt, item));
  }
  if (typeof value === 'object' && value !== null) {
    const source = value as Record<string, unknown>;
    const hashed: Record<string, unknown> = {};
    for (const key of Object.keys(source)) {
      const item = hashStrings(salt, source[key]);
      if (key === '__proto__') {
        // NB: defined as an own property, so a "__proto__" key is kept and hashed like any
        // other (an assignment would set the prototype and drop the subtree from the line).
        Object.defineProperty(hashed, key, {
          value: item,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        hashed[key] = item;
      }
    }
    return hashed;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return value;
  }
  // undefined, bigint, functions: nothing JSON would carry.
  return undefined;
}
