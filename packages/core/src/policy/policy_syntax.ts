/**
 * The syntax tree both policy dialects parse into, and the token cursor their parsers share.
 * Values are scalars, lists and objects; every node and object entry keeps its line.
 *
 * Invariant: an object node never holds two entries with the same key (parsers refuse
 * duplicates: a repeated key is ambiguous), and no tree is deeper than syntaxDepthMax.
 */
import { policyInvalid, quote } from './policy_error.ts';
import type { Token } from './policy_lexer.ts';

/** An object entry. */
export interface SyntaxEntry {
  readonly key: string;
  readonly value: SyntaxNode;
  readonly line: number;
}

/** A parsed value. */
export type SyntaxNode =
  | { readonly kind: 'string'; readonly value: string; readonly line: number }
  | { readonly kind: 'number'; readonly value: number; readonly line: number }
  | { readonly kind: 'bool'; readonly value: boolean; readonly line: number }
  | { readonly kind: 'null'; readonly line: number }
  | { readonly kind: 'list'; readonly items: readonly SyntaxNode[]; readonly line: number }
  | { readonly kind: 'object'; readonly entries: readonly SyntaxEntry[]; readonly line: number };

/** An object node. */
export type SyntaxObject = Extract<SyntaxNode, { kind: 'object' }>;

/** One `path "<pattern>" { ... }` block, from either dialect. */
export interface SyntaxPathBlock {
  readonly pattern: string;
  readonly body: SyntaxObject;
  readonly line: number;
}

/** The deepest nesting of lists and objects a document may have. */
export const syntaxDepthMax = 8;

/** Reads tokens in order. */
export class TokenCursor {
  readonly #tokens: readonly Token[];
  #index = 0;

  constructor(tokens: readonly Token[]) {
    this.#tokens = tokens;
  }

  /** The current token (the `end` token once all are read). */
  peek(): Token {
    const token = this.#tokens[Math.min(this.#index, this.#tokens.length - 1)];
    if (token === undefined) {
      throw policyInvalid(0, 'Write a policy document');
    }
    return token;
  }

  /** Consumes and returns the current token. */
  next(): Token {
    const token = this.peek();
    this.#index += 1;
    return token;
  }

  /** True when the current token is this punctuation. */
  isPunct(value: string): boolean {
    const token = this.peek();
    return token.kind === 'punct' && token.value === value;
  }

  /** Consumes this punctuation or throws naming what was expected. */
  expectPunct(value: string, context: string): Token {
    const token = this.next();
    if (token.kind !== 'punct' || token.value !== value) {
      throw policyInvalid(token.line, `Write "${value}" ${context}, not ${describeToken(token)}`);
    }
    return token;
  }
}

/** A short description of a token for messages. */
export function describeToken(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the document';
    case 'string':
      return `the string ${quote(token.value)}`;
    case 'number':
      return `the number ${token.value}`;
    case 'ident':
      return quote(token.value);
    case 'punct':
      return `"${token.value}"`;
  }
}

/** Builds an object node, refusing a repeated key. */
export class ObjectBuilder {
  readonly #entries: SyntaxEntry[] = [];
  readonly #keys = new Set<string>();
  readonly #line: number;

  constructor(line: number) {
    this.#line = line;
  }

  add(entry: SyntaxEntry): void {
    if (this.#keys.has(entry.key)) {
      throw policyInvalid(
        entry.line,
        `Remove the repeated key ${quote(entry.key)}: a key may appear once in an object`,
      );
    }
    this.#keys.add(entry.key);
    this.#entries.push(entry);
  }

  build(): SyntaxObject {
    return { kind: 'object', entries: this.#entries, line: this.#line };
  }
}

/** Throws when a nested value goes deeper than syntaxDepthMax. */
export function checkDepth(depth: number, line: number): void {
  if (depth > syntaxDepthMax) {
    throw policyInvalid(line, `Flatten the value: nesting deeper than ${syntaxDepthMax} levels`);
  }
}
