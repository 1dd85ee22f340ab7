/**
 * The body of generic `coffer write`, in Vault's forms: `key=value` pairs (kv_values.ts), or a
 * single argument naming the whole body as a JSON object: `@file.json` (from a file) or `-`
 * (from stdin, read to its end). Only the whole-body forms can send objects, lists, numbers and
 * booleans; pair values are always strings.
 *
 * NB: a body may hold secrets (a secret_id), so errors never quote it, nor JSON.parse's message
 * (which quotes the text it choked on), nor keep that error as a cause.
 */

import type { CliInput } from './cli_context.ts';
import { CliError, CliErrorCode } from './errors.ts';
import { parseKeyValues } from './kv_values.ts';
import { readTextFile } from './text_file.ts';

/** Where a whole body comes from: a file or stdin; undefined for pairs. */
type BodySource = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'stdin' };

function isWholeBody(argument: string): boolean {
  return argument === '-' || (argument.startsWith('@') && argument.length > 1);
}

/** The whole-body source of the arguments; undefined when they are pairs. */
function bodySourceOf(args: readonly string[]): BodySource | undefined {
  // NB: alone, any `@...` names a file (as Vault); among pairs, `@k=v` stays a pair.
  const whole = args.findIndex(
    (argument) => isWholeBody(argument) && (args.length === 1 || !argument.includes('=')),
  );
  if (whole < 0) {
    return undefined;
  }
  if (args.length > 1) {
    throw new CliError(
      CliErrorCode.invalidArgument,
      `Pass data argument ${whole + 1} (@file.json or -) alone: it is the whole body, and ` +
        'cannot be mixed with key=value pairs',
    );
  }
  const argument = args[0] ?? '-';
  return argument === '-' ? { kind: 'stdin' } : { kind: 'file', path: argument.slice(1) };
}

async function readBodyText(source: BodySource, input: CliInput): Promise<string> {
  if (source.kind === 'stdin') {
    const text = await input.readAll();
    if (text.trim() === '') {
      throw new CliError(
        CliErrorCode.inputMissing,
        'Pipe the body on stdin as a JSON object: none came',
      );
    }
    return text;
  }
  return readTextFile(source.path, `the body file "${source.path}"`);
}

function parseBody(text: string, source: BodySource): Record<string, unknown> {
  const where = source.kind === 'stdin' ? 'on stdin' : `in the file "${source.path}"`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CliError(
      CliErrorCode.invalidArgument,
      `Give a JSON object as the body ${where}: it does not parse as JSON`,
    );
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    const kind = body === null ? 'null' : Array.isArray(body) ? 'a list' : `a ${typeof body}`;
    throw new CliError(
      CliErrorCode.invalidArgument,
      `Give a JSON object as the body ${where}: it is ${kind}`,
    );
  }
  return body as Record<string, unknown>;
}

/**
 * The request body of `coffer write` arguments: a JSON object from `@file.json` or `-` given
 * alone, else the `key=value` pairs (files and stdin read only after all are checked).
 */
export async function parseWriteBody(
  args: readonly string[],
  input: CliInput,
): Promise<Record<string, unknown>> {
  const source = bodySourceOf(args);
  if (source === undefined) {
    return parseKeyValues(args, input);
  }
  return parseBody(await readBodyText(source, input), source);
}
