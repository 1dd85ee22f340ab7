/**
 * `coffer read|write|list|delete <path>`: any router path, through the Logical service (e.g.
 * `coffer write auth/approle/role/app token_policies=app`). Data as in `kv put`, or the whole
 * body as a JSON object from `@file.json` or `-` (write_body.ts).
 */
import type { Command } from 'commander';

import type { CofferResponse } from '@coffer/client';

import { authRows } from './auth_output.ts';
import type { CliContext } from './cli_context.ts';
import { OutputFormat } from './cli_io.ts';
import {
  action,
  argsOf,
  optionsOf,
  withClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import {
  formatOption,
  formatTable,
  leaseRows,
  listKeys,
  printList,
  printResponse,
  printWarnings,
  sortedRows,
} from './output.ts';
import { staleCallArgs, staleOption, type StaleOptions } from './stale_option.ts';
import { parseWriteBody } from './write_body.ts';

function trimPath(path: string): string {
  return path.replace(/^\/+/, '');
}

/**
 * Prints what a write answered: JSON in Vault's shape (auth included), or one table of the
 * lease, the auth block (with the token: a write to auth/token/create or a login path is how it
 * was asked for, as Vault prints it) and the data; a success line naming the path when empty.
 */
function printWriteResponse(
  context: CliContext,
  format: OutputFormat,
  written: { readonly path: string; readonly response: CofferResponse },
): void {
  const { path, response } = written;
  if (format === OutputFormat.json) {
    printResponse(context, format, response);
    return;
  }
  printWarnings(context, response);
  const rows = [
    ...leaseRows(response),
    ...(response.auth === undefined ? [] : authRows(response.auth, true)),
    ...sortedRows(response.data),
  ];
  context.stdout(
    rows.length === 0 ? `Success! Data written to: ${path}\n` : formatTable(['Key', 'Value'], rows),
  );
}

/** Adds `coffer read` and `list`, which take `--stale`. */
function registerReadCommands(program: Command, context: CliContext, onExit: OnExit): void {
  program
    .command('read')
    .description('Read any path')
    .argument('<path>', 'the router path, e.g. sys/mounts')
    .addOption(formatOption())
    .addOption(staleOption())
    .action(
      action(context, onExit, async (command) => {
        const path = trimPath(argsOf(command)[0] as string);
        const options = optionsOf<FormatOptions & StaleOptions>(command);
        const response = await withClient(context, command, (client) =>
          client.logical.read(path, ...staleCallArgs(options)),
        );
        printResponse(context, options.format, response);
        return undefined;
      }),
    );
  program
    .command('list')
    .description('List the keys under any path')
    .argument('<path>', 'the router path, e.g. auth/approle/role')
    .addOption(formatOption())
    .addOption(staleOption())
    .action(
      action(context, onExit, async (command) => {
        const path = trimPath(argsOf(command)[0] as string);
        const options = optionsOf<FormatOptions & StaleOptions>(command);
        const response = await withClient(context, command, (client) =>
          client.logical.list(path, ...staleCallArgs(options)),
        );
        if (response.staleRead !== undefined) {
          printWarnings(context, response);
        }
        printList(context, options.format, listKeys(response));
        return undefined;
      }),
    );
}

/** Adds `coffer read`, `write`, `list` and `delete`. */
export function registerGenericCommands(
  program: Command,
  context: CliContext,
  onExit: OnExit,
): void {
  registerReadCommands(program, context, onExit);
  program
    .command('write')
    .description('Write data to any path')
    .argument('<path>', 'the router path, e.g. auth/approle/role/app')
    .argument(
      '[data...]',
      'key=value, key=@file or key=- (stdin); or alone, @file.json or - (stdin): the whole body ' +
        'as a JSON object',
    )
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const [rawPath, pairs] = argsOf(command) as [string, string[]];
        const data = await parseWriteBody(pairs, context.input);
        const path = trimPath(rawPath);
        const response = await withClient(context, command, (client) =>
          client.logical.write(path, data),
        );
        printWriteResponse(context, optionsOf<FormatOptions>(command).format, { path, response });
        return undefined;
      }),
    );
  program
    .command('delete')
    .description('Delete any path')
    .argument('<path>', 'the router path')
    .action(
      action(context, onExit, async (command) => {
        const path = trimPath(argsOf(command)[0] as string);
        await withClient(context, command, (client) => client.logical.delete(path));
        context.stdout(`Success! Data deleted (if it existed) at: ${path}\n`);
        return undefined;
      }),
    );
}
