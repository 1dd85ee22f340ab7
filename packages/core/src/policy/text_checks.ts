/**
 * Character checks shared by the policy parser, policy names and the ACL: control characters
 * (C0, DEL, C1, U+2028, U+2029), lone UTF-16 surrogates (text that cannot be UTF-8), and the
 * canonical request path (the router's rules, checked again by the ACL as defense in depth).
 */

/** True for a control character code unit, or a line or paragraph separator. */
export function isControlCode(code: number): boolean {
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
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
  if (hasControlCharacter(path) || hasLoneSurrogate(path) || path.includes('%')) {
    return false;
  }
  if (path.normalize('NFC') !== path) {
    return false;
  }
  const withoutLeading = path.replace(/^\/+/u, '');
  const body = withoutLeading.endsWith('/') ? withoutLeading.slice(0, -1) : withoutLeading;
  if (body === '') {
    return true;
  }
  return body.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}
