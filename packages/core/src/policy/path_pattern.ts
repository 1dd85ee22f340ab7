/**
 * Policy path patterns (Vault's policy paths): exact paths, a `*` glob as the very last
 * character (a prefix match), and `+` segments (exactly one segment, any content). This file
 * validates a pattern as written, matches request paths, and orders matching patterns by
 * Vault's "Priority matching" rules.
 *
 * Validation refuses every pattern that could never match a request the router accepts
 * (request_path.ts refuses empty, `.`, `..`, control-character and `%` segments and non-NFC
 * paths), so a typo fails loudly at write time instead of silently granting nothing.
 *
 * Invariant: a compiled pattern has `*` only as its last character, every `+` is a whole
 * segment, no `+*`, no empty segment except a trailing one (`secret/foo/`, a list path, or
 * `secret/*`), no `.` or `..` segment, NFC text without control characters, `%` or `{{`.
 */
import { policyInvalid, quote } from './policy_error.ts';
import { policyPatternLengthMax } from './policy_types.ts';
import { hasControlCharacter } from './text_checks.ts';

/** A validated pattern with what matching and priority need. */
export interface PathPattern {
  /** The pattern without a leading `/`, as it is keyed (e.g. `secret/+/db*`). */
  readonly pattern: string;
  /** The pattern without its trailing `*`. */
  readonly body: string;
  /** True when the pattern ends in `*` (prefix match). */
  readonly isPrefix: boolean;
  /** The body's length in UTF-8 bytes (Vault compares lengths in bytes). */
  readonly bodyLengthBytes: number;
  /** The number of `+` segments. */
  readonly wildcardCount: number;
  /** The body split on `/`, when the pattern has `+` segments; empty otherwise. */
  readonly segments: readonly string[];
  /**
   * Where the first `+` or `*` is, in UTF-8 bytes: the offset of the first `+` when there is
   * one, else the length of the body for a prefix; Infinity for an exact pattern.
   */
  readonly firstWildcardIndex: number;
}

function checkText(pattern: string, line: number): void {
  const shown = quote(pattern);
  if (pattern.length > policyPatternLengthMax) {
    throw policyInvalid(
      line,
      `Shorten the path ${shown}: at most ${policyPatternLengthMax} characters`,
    );
  }
  if (pattern.normalize('NFC') !== pattern) {
    throw policyInvalid(line, `Write the path ${shown} in Unicode NFC form`);
  }
  if (hasControlCharacter(pattern)) {
    throw policyInvalid(line, `Remove the control character from the path ${shown}`);
  }
  if (pattern.includes('%')) {
    throw policyInvalid(
      line,
      `Write the path ${shown} URL-decoded: request paths never contain "%"`,
    );
  }
  if (pattern.includes('{{') || pattern.includes('}}')) {
    throw policyInvalid(
      line,
      `Remove the template from the path ${shown}: templated policies are not supported`,
    );
  }
}

function checkGlobs(pattern: string, line: number): void {
  const shown = quote(pattern);
  const star = pattern.indexOf('*');
  if (star !== -1 && star !== pattern.length - 1) {
    throw policyInvalid(
      line,
      `Move the "*" in the path ${shown} to the end: a glob is only allowed as the last character`,
    );
  }
  if (pattern.includes('+*')) {
    throw policyInvalid(line, `Write "+/*" or "+" instead of "+*" in the path ${shown}`);
  }
}

interface SegmentsInput {
  readonly pattern: string;
  readonly body: string;
  readonly isPrefix: boolean;
}

function checkSegments(input: SegmentsInput, line: number): string[] {
  const { pattern, body, isPrefix } = input;
  const shown = quote(pattern);
  const segments = body.split('/');
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === '' && !last) {
      throw policyInvalid(line, `Remove the empty segment ("//") from the path ${shown}`);
    }
    if (segment === '' && last && segments.length === 1 && !isPrefix) {
      throw policyInvalid(line, 'Write a non-empty path: use "*" to name every path');
    }
    if ((segment === '.' || segment === '..') && !(last && isPrefix)) {
      throw policyInvalid(
        line,
        `Remove the "${segment}" segment from the path ${shown}: request paths never have one`,
      );
    }
    if (segment.includes('+') && segment !== '+') {
      throw policyInvalid(
        line,
        `Make "+" a whole segment in the path ${shown}, such as "secret/+/db"`,
      );
    }
  });
  return segments;
}

/** Validates a pattern as written in a policy; throws COFFER_CORE_POLICY_INVALID. */
export function compilePattern(written: string, line: number): PathPattern {
  const pattern = written.startsWith('/') ? written.slice(1) : written;
  if (pattern === '') {
    throw policyInvalid(line, 'Write a non-empty path: use "*" to name every path');
  }
  checkText(pattern, line);
  checkGlobs(pattern, line);
  const isPrefix = pattern.endsWith('*');
  const body = isPrefix ? pattern.slice(0, -1) : pattern;
  const segments = checkSegments({ pattern, body, isPrefix }, line);
  const wildcardCount = segments.filter((s) => s === '+').length;
  const plus = pattern.indexOf('+');
  const bodyLengthBytes = Buffer.byteLength(body, 'utf8');
  return {
    pattern,
    body,
    bodyLengthBytes,
    isPrefix,
    wildcardCount,
    segments: wildcardCount > 0 ? segments : [],
    firstWildcardIndex:
      plus !== -1
        ? Buffer.byteLength(pattern.slice(0, plus), 'utf8')
        : isPrefix
          ? bodyLengthBytes
          : Number.POSITIVE_INFINITY,
  };
}

/**
 * True when a pattern with `+` segments matches path (Vault's segment wildcard match): the same
 * number of segments (at least as many for a prefix), `+` matching any one segment, the last
 * segment of a prefix pattern matching by prefix and everything after it.
 */
export function segmentPatternMatches(
  pattern: PathPattern,
  pathSegments: readonly string[],
): boolean {
  const parts = pattern.segments;
  if (pathSegments.length < parts.length) {
    return false;
  }
  if (!pattern.isPrefix && pathSegments.length !== parts.length) {
    return false;
  }
  for (let i = 0; i < parts.length; i += 1) {
    const part = parts[i] ?? '';
    const segment = pathSegments[i] ?? '';
    if (part === '+' || part === segment) {
      continue;
    }
    if (pattern.isPrefix && i === parts.length - 1 && segment.startsWith(part)) {
      continue;
    }
    return false;
  }
  return true;
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Orders two patterns that both match a path: negative when `a` has lower priority than `b`.
 * Vault's rules, in order: the first `+` or `*` later wins; not ending in `*` wins; fewer `+`
 * segments win; longer wins; lexicographically greater wins (an arbitrary but fixed order).
 */
export function comparePriority(a: PathPattern, b: PathPattern): number {
  if (a.firstWildcardIndex !== b.firstWildcardIndex) {
    return a.firstWildcardIndex < b.firstWildcardIndex ? -1 : 1;
  }
  if (a.isPrefix !== b.isPrefix) {
    return a.isPrefix ? -1 : 1;
  }
  if (a.wildcardCount !== b.wildcardCount) {
    return a.wildcardCount > b.wildcardCount ? -1 : 1;
  }
  if (a.bodyLengthBytes !== b.bodyLengthBytes) {
    return a.bodyLengthBytes < b.bodyLengthBytes ? -1 : 1;
  }
  return compareBytes(a.body, b.body);
}
