/**
 * `coffer read|write|list|delete <path>`: any router path, through the Logical service (e.g.
 * `coffer write auth/approle/role/app token_policies=app`). Data as in `kv put`.
 */
import type { Command } from 'commander';

import type { CliContext } from './cli_context.ts';
import {
  action,
  argsOf,
  optionsOf,
  withClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { parseKeyValues } from './kv_values.ts';
import { formatOption, listKeys, printList, printResponse } from './output.ts';

function trimPath(path: string): string {
  return path.replace(/^\/+/, '');
}

/** Adds `coffer read`, `write`, `list` and `delete`. */
export function registerGenericCommands(
  program: Command,
  context: CliContext,
  onExit: OnExit,
): void {
  program
    .command('read')
    .description('Read any path')
    .argument('<path>', 'the router path, e.g. sys/mounts')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const path = trimPath(argsOf(command)[0] as string);
        const response = await withClient(context, command, (client) => client.logical.read(path));
        printResponse(context, optionsOf<FormatOptions>(command).format, response);
        return undefined;
      }),
    );
  program
    .command('write')
    .description('Write data to any path')
    .argument('<path>', 'the router path, e.g. auth/approle/role/app')
    .argument('[data...]', 'key=value, key=@file or key=- (stdin)')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const [rawPath, pairs] = argsOf(command) as [string, string[]];
        const data = await parseKeyValues(pairs, context.input);
        const path = trimPath(rawPath);
        const response = await withClient(context, command, (client) =>
          client.logical.write(path, data),
        );
        printResponse(context, optionsOf<FormatOptions>(command).format, response);
        return undefined;
      }),
    );
  program
    .command('list')
    .description('List the keys under any path')
    .argument('<path>', 'the router path, e.g. auth/approle/role')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const path = trimPath(argsOf(command)[0] as string);
        const response = await withClient(context, command, (client) => client.logical.list(path));
        printList(context, optionsOf<FormatOptions>(command).format, listKeys(response));
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
