/**
 * `coffer policy write|read|list|delete` (Vault's names). `write <name> <file>` reads the
 * policy from a file, or from stdin when the file is `-`.
 */
import type { Command } from 'commander';

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
import { formatOption, listKeys, stableJson } from './output.ts';
import { readTextFile } from './text_file.ts';

async function readPolicy(context: CliContext, source: string): Promise<string> {
  if (source === '-') {
    return context.input.readAll();
  }
  return readTextFile(source, `the policy file "${source}"`);
}

async function runWrite(context: CliContext, command: Command): Promise<undefined> {
  const [name, source] = argsOf(command) as [string, string];
  const policy = await readPolicy(context, source);
  await withClient(context, command, (client) => client.policies.write({ name, policy }));
  context.stdout(`Success! Uploaded policy: ${name}\n`);
  return undefined;
}

async function runRead(context: CliContext, command: Command): Promise<undefined> {
  const [name] = argsOf(command) as [string];
  const { format } = optionsOf<FormatOptions>(command);
  const response = await withClient(context, command, (client) => client.policies.read({ name }));
  const text = response.data['policy'] ?? response.data['rules'];
  context.stdout(
    format === OutputFormat.json
      ? stableJson(response.data)
      : `${typeof text === 'string' ? text.replace(/\n$/, '') : ''}\n`,
  );
  return undefined;
}

async function runList(context: CliContext, command: Command): Promise<undefined> {
  const { format } = optionsOf<FormatOptions>(command);
  const response = await withClient(context, command, (client) => client.policies.list());
  const keys = listKeys(response);
  const policies = response.data['policies'];
  const names =
    keys.length > 0 || !Array.isArray(policies)
      ? keys
      : policies.filter((item): item is string => typeof item === 'string');
  if (format === OutputFormat.json) {
    context.stdout(stableJson(names));
  } else {
    context.stdout(names.map((name) => `${name}\n`).join(''));
  }
  return undefined;
}

/** Adds `coffer policy`. */
export function registerPolicyCommands(
  program: Command,
  context: CliContext,
  onExit: OnExit,
): void {
  const policy = program.command('policy').description('Write, read, list and delete policies');
  policy
    .command('write')
    .description('Write a policy from a file, or from stdin with -')
    .argument('<name>', 'the policy name')
    .argument('<file>', 'the policy file, or - for stdin')
    .action(action(context, onExit, (command) => runWrite(context, command)));
  policy
    .command('read')
    .description('Print a policy')
    .argument('<name>', 'the policy name')
    .addOption(formatOption())
    .action(action(context, onExit, (command) => runRead(context, command)));
  policy
    .command('list')
    .description('List the policies')
    .addOption(formatOption())
    .action(action(context, onExit, (command) => runList(context, command)));
  policy
    .command('delete')
    .description('Delete a policy')
    .argument('<name>', 'the policy name')
    .action(
      action(context, onExit, async (command) => {
        const [name] = argsOf(command) as [string];
        await withClient(context, command, (client) => client.policies.delete({ name }));
        context.stdout(`Success! Deleted policy: ${name}\n`);
        return undefined;
      }),
    );
}
