/**
 * A strict parser of the HCL subset Vault policies use (see docs/adr/0005-policy-parser.md):
 *
 *   document  = { block }
 *   block     = IDENT STRING "{" { attribute } "}"        (only `path "<pattern>" { ... }`)
 *   attribute = IDENT "=" value
 *   value     = STRING | NUMBER | "true" | "false" | list | object
 *   list      = "[" [ value { "," value } [ "," ] ] "]"
 *   object    = "{" { key "=" value [ "," ] } "}"         (key = STRING | IDENT)
 *
 * Anything else (top-level attributes, nested blocks, heredocs, interpolation syntax outside
 * strings, repeated keys) is refused with COFFER_CORE_POLICY_INVALID naming the line.
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
  while (!cursor.isPunct(']')) {
    items.push(parseValue(cursor, depth + 1));
    if (!cursor.isPunct(']')) {
      cursor.expectPunct(',', 'between list items');
    }
  }
  cursor.next();
  return { kind: 'list', items, line: open.line };
}

function parseObject(cursor: TokenCursor, depth: number): SyntaxObject {
  const open = cursor.expectPunct('{', 'to open the object');
  const builder = new ObjectBuilder(open.line);
  while (!cursor.isPunct('}')) {
    const key = cursor.next();
    if (key.kind !== 'string' && key.kind !== 'ident') {
      throw policyInvalid(
        key.line,
        `Write a key (a quoted string) here, not ${describeToken(key)}`,
      );
    }
    cursor.expectPunct('=', `after the key ${quote(key.value)}`);
    builder.add({ key: key.value, value: parseValue(cursor, depth + 1), line: key.line });
    if (cursor.isPunct(',')) {
      cursor.next();
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
  if (token.kind === 'ident' && (token.value === 'true' || token.value === 'false')) {
    cursor.next();
    return { kind: 'bool', value: token.value === 'true', line: token.line };
  }
  if (cursor.isPunct('[')) {
    return parseList(cursor, depth);
  }
  if (cursor.isPunct('{')) {
    return parseObject(cursor, depth);
  }
  if (token.kind === 'ident') {
    throw policyInvalid(token.line, `Quote the value ${quote(token.value)} with double quotes`);
  }
  throw policyInvalid(token.line, `Write a value here, not ${describeToken(token)}`);
}

function parseBlockBody(cursor: TokenCursor, pattern: string): SyntaxObject {
  const open = cursor.expectPunct('{', `after path ${quote(pattern)}`);
  const builder = new ObjectBuilder(open.line);
  while (!cursor.isPunct('}')) {
    const key = cursor.next();
    if (key.kind !== 'ident') {
      const what = key.kind === 'end' ? 'Close the block with "}"' : 'Write a setting name here';
      throw policyInvalid(key.line, `${what} in path ${quote(pattern)}, not ${describeToken(key)}`);
    }
    if (!cursor.isPunct('=')) {
      throw policyInvalid(
        key.line,
        `Write "${key.value} = <value>" in path ${quote(pattern)}: nested blocks are not supported`,
      );
    }
    cursor.next();
    builder.add({ key: key.value, value: parseValue(cursor, 1), line: key.line });
  }
  cursor.next();
  return builder.build();
}

function parseBlock(cursor: TokenCursor): SyntaxPathBlock {
  const keyword = cursor.next();
  if (keyword.kind !== 'ident' || keyword.value !== 'path') {
    throw policyInvalid(
      keyword.line,
      `Write only path "<pattern>" { ... } blocks at the top level, not ${describeToken(keyword)}`,
    );
  }
  const label = cursor.next();
  if (label.kind !== 'string') {
    throw policyInvalid(
      label.line,
      `Write the path as a quoted string after "path", not ${describeToken(label)}`,
    );
  }
  const body = parseBlockBody(cursor, label.value);
  return { pattern: label.value, body, line: keyword.line };
}

/** Parses an HCL policy document into its path blocks, in document order. */
export function parseHclDocument(text: string): SyntaxPathBlock[] {
  const cursor = new TokenCursor(tokenize(text, 'hcl'));
  const blocks: SyntaxPathBlock[] = [];
  while (cursor.peek().kind !== 'end') {
    blocks.push(parseBlock(cursor));
  }
  return blocks;
}
