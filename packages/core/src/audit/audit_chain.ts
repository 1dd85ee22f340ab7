/**
 * The audit hash chain: each line of an audit file carries `prev`, the hex SHA-256 of the
 * previous line's bytes (without its newline). The first line of a device's chain carries the
 * device's genesis value (audit_hash.ts auditChainGenesis); after a reopen (log rotation) the
 * first line of the new file carries the hash of the old file's last line, so the chain runs
 * across files.
 *
 * NB: the chain is unkeyed so anyone can verify it offline. It shows that the lines between two
 * anchors (a genesis or previous hash, and an expected last hash) are complete and unedited; it
 * does not stop someone who can rewrite the whole file from recomputing it. Ship anchors (or a
 * second device's file) off the host for that.
 */
import { hash } from 'node:crypto';

/** Hex digits in a chain hash. */
export const chainHashLength = 64;

/**
 * The chain hash of one line's bytes (without its newline); a string is hashed as its UTF-8
 * bytes, which are the bytes the device writes for it.
 */
export function chainHash(line: Uint8Array | string): string {
  // NB: the one-shot crypto.hash is about twice as fast as createHash for a line-sized input.
  return hash('sha256', line, 'hex');
}

/** True when value is a well-formed chain hash (64 lowercase hex digits). */
export function isChainHash(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}
