/**
 * The tokenizer of policy documents, in two dialects: HCL (Vault's policy syntax: `#`, `//`
 * and `/* *\/` comments, identifiers, `=`) and strict JSON (RFC 8259: no comments, no
 * identifiers but true/false/null). Strings are decoded here, escapes checked.
 *
 * Invariant: tokenize() either returns every token of the text, each with its 1-based line, or
 * throws COFFER_CORE_POLICY_INVALID; it runs in time linear in the text and never recurses.
 */
import { policyInvalid } from './policy_error.ts';
import { hasLoneSurrogate, isControlCode } from './text_checks.ts';

/** The two accepted syntaxes. */
export type PolicyDialect = 'hcl' | 'json';

/** One token. */
export type Token =
  | { readonly kind: 'string'; readonly value: string; readonly line: number }
  | { readonly kind: 'number'; readonly value: number; readonly line: number }
  | { readonly kind: 'ident'; readonly value: string; readonly line: number }
  | { readonly kind: 'punct'; readonly value: string; readonly line: number }
  | { readonly kind: 'end'; readonly value: ''; readonly line: number };

const punctuation = new Set(['{', '}', '[', ']', '=', ',', ':']);
const identStart = /[A-Za-z_]/;
const identPart = /[A-Za-z0-9_-]/;
const numberPattern = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const hex4 = /^[0-9a-fA-F]{4}$/;
const hex8 = /^[0-9a-fA-F]{8}$/;

const simpleEscapes: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  n: '\n',
  t: '\t',
  r: '\r',
};
const jsonOnlyEscapes: Readonly<Record<string, string>> = { '/': '/', b: '\b', f: '\f' };

/** A cursor over the text that tracks the line. */
class Scanner {
  readonly text: string;
  readonly dialect: PolicyDialect;
  index = 0;
  line = 1;

  constructor(text: string, dialect: PolicyDialect) {
    this.text = text;
    this.dialect = dialect;
  }

  peek(offset = 0): string {
    return this.text[this.index + offset] ?? '';
  }

  advance(): string {
    const c = this.text[this.index] ?? '';
    this.index += 1;
    if (c === '\n') {
      this.line += 1;
    }
    return c;
  }
}

function skipBlockComment(s: Scanner): void {
  const startLine = s.line;
  s.index += 2;
  while (s.index < s.text.length) {
    if (s.peek() === '*' && s.peek(1) === '/') {
      s.index += 2;
      return;
    }
    s.advance();
  }
  throw policyInvalid(startLine, 'Close the comment that starts here with "*/"');
}

function skipLineComment(s: Scanner): void {
  while (s.index < s.text.length && s.peek() !== '\n') {
    s.index += 1;
  }
}

/** Skips whitespace and (in HCL) comments. */
function skipTrivia(s: Scanner): void {
  for (;;) {
    const c = s.peek();
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      s.advance();
    } else if (s.dialect === 'hcl' && (c === '#' || (c === '/' && s.peek(1) === '/'))) {
      skipLineComment(s);
    } else if (s.dialect === 'hcl' && c === '/' && s.peek(1) === '*') {
      skipBlockComment(s);
    } else {
      return;
    }
  }
}

function readUnicodeEscape(s: Scanner, length: 4 | 8): string {
  const digits = s.text.slice(s.index, s.index + length);
  if (!(length === 4 ? hex4 : hex8).test(digits)) {
    throw policyInvalid(s.line, `Write ${length} hex digits after "\\${length === 4 ? 'u' : 'U'}"`);
  }
  s.index += length;
  const code = Number.parseInt(digits, 16);
  if (code > 0x10ffff) {
    throw policyInvalid(s.line, 'Use a Unicode code point up to U+10FFFF in the escape');
  }
  return String.fromCodePoint(code);
}

function readEscape(s: Scanner): string {
  const c = s.advance();
  const simple = simpleEscapes[c] ?? (s.dialect === 'json' ? jsonOnlyEscapes[c] : undefined);
  if (simple !== undefined) {
    return simple;
  }
  if (c === 'u') {
    return readUnicodeEscape(s, 4);
  }
  if (c === 'U' && s.dialect === 'hcl') {
    return readUnicodeEscape(s, 8);
  }
  throw policyInvalid(s.line, `Remove the unknown escape "\\${c}" from the string`);
}

/** Joins UTF-16 surrogate pairs written as two \u escapes; refuses lone surrogates. */
function checkSurrogates(value: string, line: number): string {
  if (hasLoneSurrogate(value)) {
    throw policyInvalid(line, 'Remove the lone UTF-16 surrogate from the string');
  }
  return value;
}

function readString(s: Scanner): Token {
  const line = s.line;
  s.index += 1;
  let value = '';
  for (;;) {
    if (s.index >= s.text.length) {
      throw policyInvalid(line, 'Close the string that starts here with a double quote');
    }
    const c = s.advance();
    if (c === '"') {
      return { kind: 'string', value: checkSurrogates(value, line), line };
    }
    if (c === '\\') {
      value += readEscape(s);
    } else if (c === '\n') {
      throw policyInvalid(
        line,
        'Close the string on the line it starts: strings cannot span lines',
      );
    } else if (isControlCode(c.charCodeAt(0))) {
      throw policyInvalid(line, 'Remove the control character from the string');
    } else {
      value += c;
    }
  }
}

function readNumber(s: Scanner): Token {
  numberPattern.lastIndex = s.index;
  const match = numberPattern.exec(s.text);
  const text = match?.[0] ?? '';
  const next = s.text[s.index + text.length] ?? '';
  if (text === '' || text === '-' || identPart.test(next) || next === '.') {
    throw policyInvalid(s.line, 'Write numbers as plain decimals, such as 30 or 1.5');
  }
  s.index += text.length;
  return { kind: 'number', value: Number(text), line: s.line };
}

function readIdent(s: Scanner): Token {
  const start = s.index;
  while (s.index < s.text.length && identPart.test(s.peek())) {
    s.index += 1;
  }
  const value = s.text.slice(start, s.index);
  if (s.dialect === 'json' && value !== 'true' && value !== 'false' && value !== 'null') {
    throw policyInvalid(s.line, 'Quote every key and string in a JSON policy');
  }
  return { kind: 'ident', value, line: s.line };
}

function describeCharacter(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  const hex = code.toString(16).toUpperCase().padStart(4, '0');
  return code >= 0x20 && code < 0x7f ? `"${c}"` : `U+${hex}`;
}

function readToken(s: Scanner): Token {
  const c = s.peek();
  if (c === '"') {
    return readString(s);
  }
  if (punctuation.has(c)) {
    s.index += 1;
    return { kind: 'punct', value: c, line: s.line };
  }
  if (c === '-' || (c >= '0' && c <= '9')) {
    return readNumber(s);
  }
  if (identStart.test(c)) {
    return readIdent(s);
  }
  if (c === '<' && s.peek(1) === '<') {
    throw policyInvalid(s.line, 'Write the value as a quoted string: heredocs are not supported');
  }
  const hint = c === "'" ? ': quote strings with double quotes' : '';
  throw policyInvalid(s.line, `Remove the unexpected character ${describeCharacter(c)}${hint}`);
}

/** Splits a document into tokens, ending with an `end` token. */
export function tokenize(text: string, dialect: PolicyDialect): Token[] {
  const s = new Scanner(text, dialect);
  const tokens: Token[] = [];
  for (;;) {
    skipTrivia(s);
    if (s.index >= s.text.length) {
      tokens.push({ kind: 'end', value: '', line: s.line });
      return tokens;
    }
    tokens.push(readToken(s));
  }
}
