/**
 * Request path validation: the one place the router decides what a path is. Adapters URL-decode
 * a path once; the core then accepts only NFC UTF-8 segments and refuses, with
 * COFFER_CORE_INVALID_PATH, any empty, `.`, `..`, control-character or `%` segment. So
 * `secret//x`, `secret/./x`, `secret/%2e%2e/x` and a path that differs from its NFC form never
 * reach a policy check or a handler: what a policy names is exactly what a handler sees.
 *
 * One trailing slash is kept as a fact of the request (Vault's list paths end in `/`), never as
 * an empty segment; a leading slash is not part of a path.
 */
import { CoreError, CoreErrorCode, quoteInput } from '../errors.ts';
import { redactTokenIds } from '../token/token_id.ts';

/** The longest path accepted, in UTF-16 code units. */
export const requestPathLengthMax = 1024;

/** A valid path: its segments joined by `/`, and whether the request ended in `/`. */
export interface RequestPath {
  /** Without leading or trailing slash; '' for the API root. */
  readonly path: string;
  readonly trailingSlash: boolean;
}

const quotedLengthMax = 64;

function refuse(path: string, why: string): CoreError {
  return new CoreError(
    CoreErrorCode.invalidPath,
    `Send a path of plain segments: ${quoteInput(redactTokenIds(path), quotedLengthMax)} ${why}`,
  );
}

// Control characters (C0, DEL, C1) and the line and paragraph separators.
// eslint-disable-next-line no-control-regex -- NB: matching control characters is the point.
const controlCharacter = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;
// Lone surrogates cannot be UTF-8.
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;

const printableAscii = /^[\x20-\x7e]*$/u;

/** The checks of a path that is not all printable ASCII: UTF-8, NFC, no control character. */
function checkText(raw: string): void {
  if (loneSurrogate.test(raw) || raw.includes('\ufffd')) {
    // NB: decoders turn invalid UTF-8 into U+FFFD, so a path holding it was not valid UTF-8.
    throw refuse(raw, 'is not valid UTF-8');
  }
  if (raw.normalize('NFC') !== raw) {
    throw refuse(raw, 'is not in Unicode NFC form; normalize it');
  }
  if (controlCharacter.test(raw)) {
    throw refuse(raw, 'contains a control character');
  }
}

const slash = 0x2f;
const dot = 0x2e;
const percent = 0x25;

/**
 * True when raw is a path every check below accepts, found in one pass over its characters:
 * printable ASCII without `%`, and no empty, `.` or `..` segment (one leading and one trailing
 * slash aside). NB: only a fast path: it answers false for anything unusual, and the full
 * checks then run (and word the refusal).
 */
function isPlainPath(raw: string): boolean {
  const length = raw.length;
  if (length > requestPathLengthMax) {
    return false;
  }
  let start = raw.charCodeAt(0) === slash ? 1 : 0;
  const end = length > start && raw.charCodeAt(length - 1) === slash ? length - 1 : length;
  for (let i = start; i <= end; i++) {
    const code = i === end ? slash : raw.charCodeAt(i);
    if (code === slash) {
      const size = i - start;
      if (
        (size === 0 && end > 0) ||
        (size === 1 && raw.charCodeAt(start) === dot) ||
        (size === 2 && raw.charCodeAt(start) === dot && raw.charCodeAt(start + 1) === dot)
      ) {
        return false;
      }
      start = i + 1;
    } else if (code < 0x20 || code > 0x7e || code === percent) {
      return false;
    }
  }
  return true;
}

/** Validates a request path; throws COFFER_CORE_INVALID_PATH naming what is wrong. */
export function validateRequestPath(raw: string): RequestPath {
  if (typeof raw === 'string' && isPlainPath(raw)) {
    const withoutLeading = raw.charCodeAt(0) === slash ? raw.slice(1) : raw;
    const trailingSlash = withoutLeading.charCodeAt(withoutLeading.length - 1) === slash;
    return { path: trailingSlash ? withoutLeading.slice(0, -1) : withoutLeading, trailingSlash };
  }
  if (typeof raw !== 'string') {
    throw refuse(String(raw), 'is not a string');
  }
  if (raw.length > requestPathLengthMax) {
    throw refuse(raw, `is longer than ${requestPathLengthMax} characters`);
  }
  // NB: printable ASCII (almost every path) holds no surrogate, U+FFFD or control character
  // and is its own NFC form: the costlier checks run only for other text.
  if (!printableAscii.test(raw)) {
    checkText(raw);
  }
  if (raw.includes('%')) {
    throw refuse(raw, 'contains "%": URL-decode the path once, and do not encode segments twice');
  }
  const withoutLeading = raw.startsWith('/') ? raw.slice(1) : raw;
  const trailingSlash = withoutLeading.endsWith('/');
  const path = trailingSlash ? withoutLeading.slice(0, -1) : withoutLeading;
  if (path === '') {
    return { path, trailingSlash };
  }
  for (const segment of path.split('/')) {
    if (segment === '') {
      throw refuse(raw, 'has an empty segment ("//")');
    }
    if (segment === '.' || segment === '..') {
      throw refuse(raw, `has a "${segment}" segment`);
    }
  }
  return { path, trailingSlash };
}
