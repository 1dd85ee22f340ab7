/**
 * What every command action shares: reading its arguments and options from commander, opening a
 * client from the global options, closing it, and turning a failure into `Error: <message>
 * (<code>)` on stderr and an exit code.
 *
 * Exit codes (Vault's convention): 0 success; 1 a local error (bad input, unreadable file,
 * COFFER_CLI_* codes, commander's usage errors); 2 a remote error (the server refused, or could
 * not be reached: COFFER_CORE_*, COFFER_API_*, COFFER_CLIENT_* codes).
 */
import type { Command } from 'commander';

import type { CliClient, CliContext } from './cli_context.ts';
import type { OutputFormat } from './cli_io.ts';
import { resolveClientOptions, type GlobalOptions } from './client_settings.ts';
import { errorLine } from './errors.ts';

/** Where the command tree sends exit codes. */
export type OnExit = (code: number) => void;

/** The options every data-printing command has, plus the global ones. */
export interface FormatOptions extends GlobalOptions {
  readonly format: OutputFormat;
}

function stringField(error: unknown, name: string): string | undefined {
  const value = (error as Record<string, unknown> | null)?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** Prints a failure and returns its exit code (1 local, 2 remote). */
export function reportError(context: CliContext, error: unknown): number {
  const code = stringField(error, 'code');
  const message =
    stringField(error, 'message') ?? 'The command failed without a message; run it again';
  const retry = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  // NB: a message that already says when to retry (the router's rate limits do) is not told twice.
  const retryText =
    typeof retry === 'number' && !/retry after \d+ ms/i.test(message)
      ? `; retry after ${retry} ms`
      : '';
  context.stderr(errorLine(`${message}${retryText}`, code ?? 'UNKNOWN'));
  const remote = code?.startsWith('COFFER_') === true && !code.startsWith('COFFER_CLI_');
  return remote ? 2 : 1;
}

/** The command's positional arguments, as commander parsed them. */
export function argsOf(command: Command): unknown[] {
  return command.processedArgs;
}

/**
 * An action for commander: runs `body` with the command (its args in processedArgs, its options
 * in opts()), then reports the exit code (0 when body returns nothing).
 */
export function action(
  context: CliContext,
  onExit: OnExit,
  body: (command: Command) => Promise<number | undefined>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    let code: number;
    try {
      code = (await body(command)) ?? 0;
    } catch (error) {
      code = reportError(context, error);
    }
    onExit(code);
  };
}

/** The command's own and global options. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- opts() is untyped: T names the options the command declared
export function optionsOf<T extends GlobalOptions>(command: Command): T {
  return command.optsWithGlobals<T>();
}

async function run<T>(
  context: CliContext,
  target: { readonly command: Command; readonly withToken: boolean },
  body: (client: CliClient) => Promise<T>,
): Promise<T> {
  const options = optionsOf(target.command);
  const clientOptions = await resolveClientOptions(options, context, target.withToken);
  const client = context.createClient(clientOptions);
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

/** Opens a client with the caller's token (global options), runs `body`, closes the client. */
export function withClient<T>(
  context: CliContext,
  command: Command,
  body: (client: CliClient) => Promise<T>,
): Promise<T> {
  return run(context, { command, withToken: true }, body);
}

/**
 * As {@link withClient}, sending no token: for status, init, unseal, rekey and generate-root,
 * which need none, so a missing or insecure token file does not stop them.
 */
export function withAnonymousClient<T>(
  context: CliContext,
  command: Command,
  body: (client: CliClient) => Promise<T>,
): Promise<T> {
  return run(context, { command, withToken: false }, body);
}
