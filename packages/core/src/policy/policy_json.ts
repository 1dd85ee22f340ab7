/**
 * A strict JSON parser for policy documents in Vault's JSON form:
 *
 *   { "path": { "<pattern>": { "capabilities": [...], ... }, ... } }
 *
 * RFC 8259 syntax only (no comments, no trailing commas), refusing repeated keys (JSON.parse
 * would silently keep the last one) and nesting deeper than syntaxDepthMax.
 */
import { policyInvalid, quote } from './policy_error.ts';
import { tokenize } from './policy_lexer.ts';
import {
  checkDepth,
  describeToken,
  ObjectBuilder,
  TokenCursor,
  type SyntaxNode,
  type SyntaxObject,
  type SyntaxPathBlock,
} from './policy_syntax.ts';

function parseList(cursor: TokenCursor, depth: number): SyntaxNode {
  const open = cursor.expectPunct('[', 'to open the list');
  const items: SyntaxNode[] = [];
  if (!cursor.isPunct(']')) {
    for (;;) {
      items.push(parseValue(cursor, depth + 1));
      if (cursor.isPunct(']')) {
        break;
      }
      cursor.expectPunct(',', 'between list items');
    }
  }
  cursor.next();
  return { kind: 'list', items, line: open.line };
}

function parseObject(cursor: TokenCursor, depth: number): SyntaxObject {
  const open = cursor.expectPunct('{', 'to open the object');
  const builder = new ObjectBuilder(open.line);
  if (!cursor.isPunct('}')) {
    for (;;) {
      const key = cursor.next();
      if (key.kind !== 'string') {
        throw policyInvalid(key.line, `Write a quoted key here, not ${describeToken(key)}`);
      }
      cursor.expectPunct(':', `after the key ${quote(key.value)}`);
      builder.add({ key: key.value, value: parseValue(cursor, depth + 1), line: key.line });
      if (cursor.isPunct('}')) {
        break;
      }
      cursor.expectPunct(',', 'between object members');
    }
  }
  cursor.next();
  return builder.build();
}

function parseValue(cursor: TokenCursor, depth: number): SyntaxNode {
  const token = cursor.peek();
  checkDepth(depth, token.line);
  if (token.kind === 'string' || token.kind === 'number') {
    cursor.next();
    return token;
  }
  if (token.kind === 'ident') {
    cursor.next();
    return token.value === 'null'
      ? { kind: 'null', line: token.line }
      : { kind: 'bool', value: token.value === 'true', line: token.line };
  }
  if (cursor.isPunct('[')) {
    return parseList(cursor, depth);
  }
  if (cursor.isPunct('{')) {
    return parseObject(cursor, depth);
  }
  throw policyInvalid(token.line, `Write a JSON value here, not ${describeToken(token)}`);
}

/** Parses a JSON policy document into its path blocks, in document order. */
export function parseJsonDocument(text: string): SyntaxPathBlock[] {
  const cursor = new TokenCursor(tokenize(text, 'json'));
  const root = parseValue(cursor, 0);
  const trailing = cursor.peek();
  if (trailing.kind !== 'end') {
    throw policyInvalid(trailing.line, `Remove ${describeToken(trailing)} after the JSON document`);
  }
  if (root.kind !== 'object') {
    throw policyInvalid(root.line, 'Write the JSON policy as an object: {"path": {...}}');
  }
  const blocks: SyntaxPathBlock[] = [];
  for (const entry of root.entries) {
    if (entry.key !== 'path') {
      throw policyInvalid(
        entry.line,
        `Remove the top-level key ${quote(entry.key)}: only "path" is allowed`,
      );
    }
    if (entry.value.kind !== 'object') {
      throw policyInvalid(
        entry.line,
        'Write "path" as an object of patterns: {"path": {"secret/*": {...}}}',
      );
    }
    for (const rule of entry.value.entries) {
      if (rule.value.kind !== 'object') {
        throw policyInvalid(rule.line, `Write the rules of path ${quote(rule.key)} as an object`);
      }
      blocks.push({ pattern: rule.key, body: rule.value, line: rule.line });
    }
  }
  return blocks;
}
