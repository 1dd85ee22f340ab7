/**
 * The root token of init and generate-root, written straight through the SecureStore (before
 * the router and the token store run): a full token entry in the token store's format
 * (token/token_entry.ts), with its accessor index, so the token store validates, looks up and
 * revokes it like any other.
 *
 * A token id is `cfr.` + 24 random bytes in base64url (36 characters). It is never stored: the
 * entry lives at `auth/token/id/<HMAC of the id>` (the barrier's token identifier key), and its
 * value is encrypted by the barrier like every other value.
 */
import type { Barrier } from '../barrier/barrier.ts';
import { IdentifierPurpose } from '../barrier/key_derivation.ts';
import type { SecureStore } from '../replicated/secure_store.ts';
import { checkTokenEntry, rootTokenEntry, type TokenEntry } from '../token/token_entry.ts';
import { accessorHashInput, newAccessor, newTokenId } from '../token/token_id.ts';

export { tokenIdLength, tokenIdPrefix } from '../token/token_id.ts';
export type { TokenEntry } from '../token/token_entry.ts';

/** The raw state prefix of the token store. */
const tokenStorePrefix = 'auth/token/';

/** Where the entry of token `id` lives: the id itself only as an HMAC. */
export function tokenEntryPath(barrier: Barrier, id: string): string {
  return `${tokenStorePrefix}id/${barrier.hmacIdentifier(IdentifierPurpose.token, id)}`;
}

/**
 * Creates a root token (policy "root", no expiry) and returns its id, the only copy of it. The
 * caller hands it to the operator once and keeps it nowhere.
 */
export async function createRootToken(
  secure: SecureStore,
  options: { readonly barrier: Barrier; readonly nowMs: number },
): Promise<string> {
  const { barrier } = options;
  const id = newTokenId();
  const accessor = newAccessor();
  const key = barrier.hmacIdentifier(IdentifierPurpose.token, id);
  const accessorKey = barrier.hmacIdentifier(IdentifierPurpose.token, accessorHashInput(accessor));
  const entry = rootTokenEntry({ key, accessor, nowMs: options.nowMs });
  const encoder = new TextEncoder();
  // The accessor first: an index entry without its token is tidied; a token without its
  // accessor could not be revoked by accessor.
  await secure.put(
    `${tokenStorePrefix}accessor/${accessorKey}`,
    encoder.encode(JSON.stringify({ tokenKey: key })),
  );
  await secure.put(tokenEntryPath(barrier, id), encoder.encode(JSON.stringify(entry)));
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
  return checkTokenEntry(JSON.parse(new TextDecoder().decode(stored)));
}
