/**
 * `key=value` arguments (kv put, kv patch, write): `k=v` literally, `k=@file` from a file, `k=-`
 * from stdin (at most one, read to its end, as Vault does), so that secrets can stay off the
 * command line (PRODUCT.md). A key may appear once.
 *
 * NB: an argument may be a secret typed in the wrong shape (`password:hunter2`), so errors name
 * the argument's position and the key, never the argument itself.
 */
import type { CliInput } from './cli_context.ts';
import { CliError, CliErrorCode } from './errors.ts';
import { readTextFile } from './text_file.ts';

/** One parsed pair and where its value comes from. */
type Source =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'stdin' };

function invalid(message: string): CliError {
  return new CliError(CliErrorCode.invalidArgument, message);
}

function parsePair(argument: string, position: number): { key: string; source: Source } {
  const equals = argument.indexOf('=');
  if (equals < 0) {
    throw invalid(`Pass data argument ${position} as key=value, key=@file or key=-: it has no "="`);
  }
  const key = argument.slice(0, equals);
  if (key === '') {
    throw invalid(`Name a key before the "=" of data argument ${position}`);
  }
  const raw = argument.slice(equals + 1);
  if (raw === '-') {
    return { key, source: { kind: 'stdin' } };
  }
  if (raw.startsWith('@') && raw.length > 1) {
    return { key, source: { kind: 'file', path: raw.slice(1) } };
  }
  return { key, source: { kind: 'literal', value: raw } };
}

async function readValueFile(key: string, path: string): Promise<string> {
  return readTextFile(path, `the file "${path}" given for key "${key}"`);
}

/** Checks every argument's shape, the keys' uniqueness and that at most one reads stdin. */
function parsePairs(args: readonly string[]): { key: string; source: Source }[] {
  const pairs = args.map((argument, index) => parsePair(argument, index + 1));
  const seen = new Set<string>();
  for (const { key } of pairs) {
    if (seen.has(key)) {
      throw invalid(`Give key "${key}" once: it appears more than once in the data arguments`);
    }
    seen.add(key);
  }
  if (pairs.filter((pair) => pair.source.kind === 'stdin').length > 1) {
    throw invalid('Read at most one value from stdin: more than one data argument is key=-');
  }
  return pairs;
}

/** The data of `key=value` arguments; files and stdin are read only after all are checked. */
export async function parseKeyValues(
  args: readonly string[],
  input: CliInput,
): Promise<Record<string, string>> {
  const data: Record<string, string> = {};
  for (const { key, source } of parsePairs(args)) {
    switch (source.kind) {
      case 'literal':
        data[key] = source.value;
        break;
      case 'file':
        data[key] = await readValueFile(key, source.path);
        break;
      case 'stdin':
        data[key] = await input.readAll();
        break;
    }
  }
  return data;
}

/** `k=v` pairs with literal values only (metadata, options): no files, no stdin. */
export function parseLiteralPairs(args: readonly string[], what: string): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [index, argument] of args.entries()) {
    const equals = argument.indexOf('=');
    if (equals <= 0) {
      throw invalid(`Pass ${what} ${index + 1} as key=value`);
    }
    const key = argument.slice(0, equals);
    if (key in data) {
      throw invalid(`Give ${what} key "${key}" once`);
    }
    data[key] = argument.slice(equals + 1);
  }
  return data;
}
