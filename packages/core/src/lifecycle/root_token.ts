/**
 * A minimal token store: enough to create the initial root token at init and a new one through
 * generate-root, and to check that a token exists. The core issue extends it (accessors, TTLs,
 * child tokens, revocation).
 *
 * A token id is `cfr.` + 24 random bytes in base64url (36 characters). It is never stored: the
 * entry lives at `auth/token/id/<HMAC of the id>` (the barrier's token identifier key), and its
 * value is encrypted by the barrier like every other value.
 */
import { randomBytes } from 'node:crypto';

import type { Barrier } from '../barrier/barrier.ts';
import { IdentifierPurpose } from '../barrier/key_derivation.ts';
import type { SecureStore } from '../replicated/secure_store.ts';

/** The prefix of every Coffer token id. */
export const tokenIdPrefix = 'cfr.';

/** Random bytes in a token id. */
const tokenIdRandomBytes = 24;

/** The length of a token id in characters (the one-time key of generate-root has it too). */
export const tokenIdLength = tokenIdPrefix.length + Math.ceil((tokenIdRandomBytes * 4) / 3);

/** What is stored for a token. */
export interface TokenEntry {
  readonly policies: readonly string[];
  readonly createdMs: number;
}

/** Where the entry of token `id` lives: the id itself only as an HMAC. */
export function tokenEntryPath(barrier: Barrier, id: string): string {
  return `auth/token/id/${barrier.hmacIdentifier(IdentifierPurpose.token, id)}`;
}

/**
 * Creates a root token (policy "root") and returns its id, the only copy of it. The caller hands
 * it to the operator once and keeps it nowhere.
 */
export async function createRootToken(
  secure: SecureStore,
  options: { readonly barrier: Barrier; readonly nowMs: number },
): Promise<string> {
  const id = `${tokenIdPrefix}${randomBytes(tokenIdRandomBytes).toString('base64url')}`;
  const entry: TokenEntry = { policies: ['root'], createdMs: options.nowMs };
  await secure.put(
    tokenEntryPath(options.barrier, id),
    new TextEncoder().encode(JSON.stringify(entry)),
  );
  return id;
}

/** The entry of token `id`, or undefined when there is none (read through the barrier). */
export async function findToken(
  secure: SecureStore,
  options: { readonly barrier: Barrier; readonly id: string },
): Promise<TokenEntry | undefined> {
  const stored = await secure.get(tokenEntryPath(options.barrier, options.id));
  if (stored === undefined) {
    return undefined;
  }
  return JSON.parse(new TextDecoder().decode(stored)) as TokenEntry;
}
