/**
 * Character checks shared by the policy parser, policy names and the ACL: control characters
 * (C0, DEL, C1, U+2028, U+2029), lone UTF-16 surrogates (text that cannot be UTF-8), and the
 * canonical request path (the router's rules, checked again by the ACL as defense in depth).
 */

/** True for a control character code unit, or a line or paragraph separator. */
export function isControlCode(code: number): boolean {
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
}

const printableAscii = /^[\x20-\x7e]*$/u;
const slash = 0x2f;
const dot = 0x2e;

/**
 * True when every character of text is printable ASCII (U+0020 to U+007E): then it holds no
 * control character and no surrogate, and it is its own NFC form.
 */
function isPrintableAscii(text: string): boolean {
  return printableAscii.test(text);
}

/** True when text holds a control character. */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    if (isControlCode(text.charCodeAt(i))) {
      return true;
    }
  }
  return false;
}

/** True when text holds a lone UTF-16 surrogate. */
export function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code >= 0xdc00 && code <= 0xdfff) {
      return true;
    }
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) {
        return true;
      }
      i += 1;
    }
  }
  return false;
}

/**
 * True for a path the router would accept (request_path.ts): NFC, no control character, no
 * `%`, no lone surrogate, and no empty, `.` or `..` segment once leading slashes and one
 * trailing slash are set aside. The ACL matches strings, so it refuses anything else rather
 * than let `secret/a/../b` match `secret/a/*`.
 */
export function isCanonicalPath(path: string): boolean {
  // NB: printable ASCII (almost every path) holds no control character or surrogate and is its
  // own NFC form, so the costlier checks run only for other text.
  if (
    !isPrintableAscii(path) &&
    (hasControlCharacter(path) || hasLoneSurrogate(path) || path.normalize('NFC') !== path)
  ) {
    return false;
  }
  if (path.includes('%')) {
    return false;
  }
  let start = 0;
  while (path.charCodeAt(start) === slash) {
    start += 1;
  }
  const end =
    path.length > start && path.charCodeAt(path.length - 1) === slash
      ? path.length - 1
      : path.length;
  return start === end || segmentsArePlain(path, start, end);
}

/** True when no segment of path[start, end) is empty, `.` or `..` (without splitting it). */
function segmentsArePlain(path: string, start: number, end: number): boolean {
  for (let from = start; ;) {
    const found = path.indexOf('/', from);
    const to = found === -1 || found >= end ? end : found;
    const length = to - from;
    if (
      length === 0 ||
      (length <= 2 && path.charCodeAt(from) === dot && path.charCodeAt(to - 1) === dot)
    ) {
      return false;
    }
    if (to === end) {
      return true;
    }
    from = to + 1;
  }
}
