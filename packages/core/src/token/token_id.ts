/**
 * Token ids and accessors: their shape, and how they are drawn.
 *
 * A token id is `cfr.` + 24 random bytes in base64url (36 characters). It is the bearer
 * credential: it exists in clear only in the response that issues it. Storage keys it by a keyed
 * hash (the barrier's token identifier HMAC), so a copy of the data directory yields no token.
 * An accessor is 18 random bytes in base64url (24 characters): a public handle to look up or
 * revoke a token without holding it; it is indexed by a keyed hash too.
 *
 * Invariant: every id and accessor is drawn from crypto.randomBytes, before any write.
 */
import { randomBytes } from 'node:crypto';

/** The prefix of every Coffer token id. */
export const tokenIdPrefix = 'cfr.';

/** Random bytes in a token id. */
export const tokenIdRandomBytes = 24;

/** The length of a token id in characters (the one-time key of generate-root has it too). */
export const tokenIdLength = tokenIdPrefix.length + Math.ceil((tokenIdRandomBytes * 4) / 3);

const accessorRandomBytes = 18;
const tokenIdPattern = /^cfr\.[A-Za-z0-9_-]+$/;
const accessorPattern = /^[A-Za-z0-9_-]{24}$/;

/** A fresh token id. */
export function newTokenId(): string {
  return `${tokenIdPrefix}${randomBytes(tokenIdRandomBytes).toString('base64url')}`;
}

/** A fresh accessor. */
export function newAccessor(): string {
  return randomBytes(accessorRandomBytes).toString('base64url');
}

/** Token ids inside a longer text (a path, a message); a longer run is cut at the id's length. */
const tokenIdsInText = new RegExp(
  `cfr\\.[A-Za-z0-9_-]{${String(tokenIdLength - tokenIdPrefix.length)}}`,
  'g',
);

/**
 * text with every token id in it replaced by what `replace` makes of it: a caller may put a
 * token in a request path (Vault's old `auth/token/lookup/<token>`), and a path is quoted by
 * errors and recorded by the audit. Text without the prefix comes back as it is, at once.
 */
export function replaceTokenIds(text: string, replace: (id: string) => string): string {
  return text.includes(tokenIdPrefix) ? text.replace(tokenIdsInText, replace) : text;
}

/** text with every token id in it shown as `cfr.<redacted>` (for errors and log lines). */
export function redactTokenIds(text: string): string {
  return replaceTokenIds(text, () => 'cfr.<redacted>');
}

/** True when id has the shape of a token id (checked before it is hashed and looked up). */
export function isTokenIdShaped(id: string): boolean {
  return id.length === tokenIdLength && tokenIdPattern.test(id);
}

/** True when accessor has the shape of an accessor. */
export function isAccessorShaped(accessor: string): boolean {
  return accessorPattern.test(accessor);
}

/** The value hashed to index an accessor (domain-separated from token ids, which start `cfr.`). */
export function accessorHashInput(accessor: string): string {
  return `accessor:${accessor}`;
}
