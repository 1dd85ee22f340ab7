/**
 * The human form of a share: `coffer1:` followed by the share bytes in base64url without
 * padding. The prefix names the format version, so a later format can be told apart and a share
 * pasted into the wrong tool is refused early. There is deliberately no per-share checksum or
 * share-set id: either would let the unseal flow say which share was wrong (docs/design/seal.md).
 *
 * Decoding is strict and canonical (one spelling per share), so two spellings of one share
 * cannot count twice.
 */
import { SecretKey } from '../barrier/secret_key.ts';

/** The version prefix of every encoded share. */
export const sharePrefix = 'coffer1:';

const bodyPattern = /^[A-Za-z0-9_-]+$/;
/** Longest encoded share we look at: 255 + 1 bytes of base64url plus the prefix, with room. */
const encodedLengthMax = 512;

/** Encodes a share for a person. NB: the returned string cannot be zeroed; encode at the edge. */
export function encodeShare(share: SecretKey): string {
  return sharePrefix + share.reveal().toString('base64url');
}

/**
 * Decodes an encoded share of `sizeBytes` bytes, ignoring surrounding whitespace. Returns
 * undefined for anything else (wrong prefix, alphabet, padding, size, or a non-canonical
 * spelling).
 */
export function decodeShare(encoded: string, sizeBytes: number): SecretKey | undefined {
  const text = encoded.trim();
  if (text.length > encodedLengthMax || !text.startsWith(sharePrefix)) {
    return undefined;
  }
  const body = text.slice(sharePrefix.length);
  if (!bodyPattern.test(body)) {
    return undefined;
  }
  const bytes = Buffer.from(body, 'base64url');
  const canonical = bytes.byteLength === sizeBytes && bytes.toString('base64url') === body;
  const share = canonical ? SecretKey.fromBytes(bytes) : undefined;
  bytes.fill(0);
  return share;
}
