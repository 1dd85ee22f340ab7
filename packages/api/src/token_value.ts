/**
 * A caller's token as the adapters (gRPC, GraphQL, HTTP) hand it to the router.
 *
 * Invariant: a value that cannot be a token (longer than {@link tokenLengthMax}, or anything
 * but printable ASCII) reaches the router as {@link malformedToken}, which the router refuses
 * exactly as it refuses every missing, malformed, expired or revoked token: one
 * PERMISSION_DENIED, audited, on the active node or through a standby (no second answer to
 * tell a malformed token by). The value itself goes no further: not into an audit HMAC, not
 * into a forward to the active node.
 */

/** The longest token passed on: far above Coffer's token ids, far below the header limits. */
export const tokenLengthMax = 512;
/** Printable ASCII without space: a token never holds anything else. */
const tokenPattern = /^[\x21-\x7e]+$/;

/** What the router gets instead of a value that cannot be a token (not token-shaped). */
export const malformedToken = 'malformed';

/** token, or {@link malformedToken} when it cannot be one. */
export function routableToken(token: string): string {
  return token.length <= tokenLengthMax && tokenPattern.test(token) ? token : malformedToken;
}
