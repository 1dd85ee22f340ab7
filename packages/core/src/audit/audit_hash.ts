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

/**
 * The HMAC key object of each salt, made once: createHmac with a KeyObject skips importing the
 * key bytes on every call (about a third of an audit hash's cost). Weak, so a disabled device's
 * salt and key go with it.
 */
const saltKeys = new WeakMap<Uint8Array, KeyObject>();

function keyOf(salt: Uint8Array): KeyObject {
  let key = saltKeys.get(salt);
  if (key === undefined) {
    key = createSecretKey(salt);
    saltKeys.set(salt, key);
  }
  return key;
}

/** The audit hash of value under salt: `hmac-sha256:<64 hex digits>`. */
export function auditHash(salt: Uint8Array, value: string): string {
  return auditHashPrefix + createHmac('sha256', keyOf(salt)).update(value, 'utf8').digest('hex');
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
    // NB: fromEntries defines own properties, so a "__proto__" key is kept and hashed like any
    // other (an assignment would set the prototype and drop the subtree from the line).
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, hashStrings(salt, item)]),
    );
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return value;
  }
  // undefined, bigint, functions: nothing JSON would carry.
  return undefined;
}
