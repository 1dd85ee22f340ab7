/**
 * `coffer kv put|patch|get|list|delete|undelete|destroy` on a KV v2 mount (Vault's `kv`
 * helper). Paths are `<mount>/<path>` or `--mount <mount> <path>` (kv_path.ts); data are
 * `k=v`, `k=@file` or `k=-` (kv_values.ts).
 */
import type { Command } from 'commander';

import type { CofferResponse } from '@coffer/client';

import { parseCount, parseVersions } from './arg_parsers.ts';
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
import { CliError, CliErrorCode } from './errors.ts';
import { registerKvMetadataCommands } from './kv_metadata_commands.ts';
import { parseKvPath } from './kv_path.ts';
import { parseKeyValues } from './kv_values.ts';
import { staleCallArgs, staleOption, type StaleOptions } from './stale_option.ts';
import {
  formatOption,
  formatTable,
  listKeys,
  printList,
  printResponse,
  printWarnings,
  responseJson,
  sortedRows,
  stableJson,
} from './output.ts';

interface KvOptions extends FormatOptions, StaleOptions {
  readonly mount?: string;
  readonly cas?: number;
  readonly version?: number;
  readonly versions?: number[];
  readonly field?: string;
}

function record(value: unknown): Readonly<Record<string, unknown>> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** kv get's table: the version's metadata, then its data (Vault's layout). */
function secretTable(response: CofferResponse): string {
  const metadata = record(response.data['metadata']);
  const data = record(response.data['data']);
  return (
    `======= Metadata =======\n${formatTable(['Key', 'Value'], sortedRows(metadata))}\n` +
    `====== Data ======\n${formatTable(['Key', 'Value'], sortedRows(data))}`
  );
}

function printField(context: CliContext, response: CofferResponse, options: KvOptions): void {
  const data = record(response.data['data']);
  const field = options.field ?? '';
  if (!(field in data)) {
    const names = Object.keys(data).sort().join(', ');
    throw new CliError(
      CliErrorCode.invalidArgument,
      `Name a field of the secret: "${field}" is not one (fields: ${names === '' ? 'none' : names})`,
    );
  }
  const value = data[field];
  // NB: no newline after a string, as Vault's -field, so `> file` holds the value exactly.
  context.stdout(
    options.format === OutputFormat.json
      ? stableJson(value)
      : typeof value === 'string'
        ? value
        : JSON.stringify(value),
  );
}

async function runGet(context: CliContext, command: Command): Promise<undefined> {
  const options = optionsOf<KvOptions>(command);
  const target = parseKvPath(argsOf(command)[0] as string, options);
  const response = await withClient(context, command, (client) =>
    client.kv.get(
      {
        ...target,
        ...(options.version === undefined ? {} : { version: options.version }),
      },
      ...staleCallArgs(options),
    ),
  );
  if (options.field !== undefined) {
    if (response.staleRead !== undefined) {
      // NB: stderr, so a stale value printed with --field still reads as stale.
      printWarnings(context, response);
    }
    printField(context, response, options);
  } else if (options.format === OutputFormat.json) {
    context.stdout(stableJson(responseJson(response)));
  } else {
    printWarnings(context, response);
    context.stdout(secretTable(response));
  }
  return undefined;
}

async function runWrite(
  context: CliContext,
  command: Command,
  kind: 'put' | 'patch',
): Promise<undefined> {
  const options = optionsOf<KvOptions>(command);
  const [path, pairs] = argsOf(command) as [string, string[]];
  const target = parseKvPath(path, options);
  if (pairs.length === 0) {
    throw new CliError(
      CliErrorCode.invalidArgument,
      'Pass the data as key=value, key=@file or key=-',
    );
  }
  const data = await parseKeyValues(pairs, context.input);
  const request = { ...target, data, ...(options.cas === undefined ? {} : { cas: options.cas }) };
  const response = await withClient(context, command, (client) => client.kv[kind](request));
  printResponse(context, options.format, response);
  return undefined;
}

async function runVersions(
  context: CliContext,
  command: Command,
  kind: 'delete' | 'undelete' | 'destroy',
): Promise<undefined> {
  const options = optionsOf<KvOptions>(command);
  const target = parseKvPath(argsOf(command)[0] as string, options);
  const versions = options.versions;
  if (kind !== 'delete' && versions === undefined) {
    throw new CliError(
      CliErrorCode.invalidArgument,
      `Pass --versions to ${kind}, e.g. --versions 1,2`,
    );
  }
  await withClient(context, command, (client) =>
    kind === 'delete'
      ? client.kv.delete({ ...target, ...(versions === undefined ? {} : { versions }) })
      : client.kv[kind]({ ...target, versions: versions ?? [] }),
  );
  context.stdout(
    `Success! Data ${kind === 'destroy' ? 'destroyed' : `${kind}d`} at: ${target.mount}/${target.path}\n`,
  );
  return undefined;
}

async function runList(context: CliContext, command: Command): Promise<undefined> {
  const options = optionsOf<KvOptions>(command);
  const target = parseKvPath(argsOf(command)[0] as string, { ...options, allowEmpty: true });
  const response = await withClient(context, command, (client) =>
    client.kv.list(target, ...staleCallArgs(options)),
  );
  if (response.staleRead !== undefined) {
    printWarnings(context, response);
  }
  printList(context, options.format, listKeys(response));
  return undefined;
}

function kvCommand(kv: Command, name: string, description: string): Command {
  return kv
    .command(name)
    .description(description)
    .argument('<path>', 'mount/path of the secret, or the path with --mount')
    .option('--mount <mount>', 'the KV v2 mount (default: the first segment of the path)')
    .addOption(formatOption());
}

/** Adds `coffer kv` and its subcommands (metadata in kv_metadata_commands.ts). */
export function registerKvCommands(program: Command, context: CliContext, onExit: OnExit): void {
  const kv = program.command('kv').description('Read and write secrets in a KV v2 engine');
  for (const kind of ['put', 'patch'] as const) {
    kvCommand(
      kv,
      kind,
      kind === 'put' ? 'Write a new version of a secret' : 'Change some keys of the latest version',
    )
      .argument('[data...]', 'key=value, key=@file or key=- (stdin)')
      .option(
        '--cas <version>',
        'write only if the current version is this one (0: only if absent)',
        parseCount,
      )
      .action(action(context, onExit, (command) => runWrite(context, command, kind)));
  }
  kvCommand(kv, 'get', 'Read a secret (the latest version unless --version)')
    .option('--version <n>', 'the version to read', parseCount)
    .option('--field <key>', 'print only this key of the data')
    .addOption(staleOption())
    .action(action(context, onExit, (command) => runGet(context, command)));
  kvCommand(kv, 'list', 'List the keys under a path')
    .addOption(staleOption())
    .action(action(context, onExit, (command) => runList(context, command)));
  const versionsHelp = 'comma-separated versions, e.g. 1,2';
  kvCommand(kv, 'delete', 'Delete the latest version, or --versions (undelete can restore)')
    .option('--versions <list>', versionsHelp, parseVersions)
    .action(action(context, onExit, (command) => runVersions(context, command, 'delete')));
  kvCommand(kv, 'undelete', 'Restore deleted versions')
    .option('--versions <list>', versionsHelp, parseVersions)
    .action(action(context, onExit, (command) => runVersions(context, command, 'undelete')));
  kvCommand(kv, 'destroy', 'Destroy versions for good')
    .option('--versions <list>', versionsHelp, parseVersions)
    .action(action(context, onExit, (command) => runVersions(context, command, 'destroy')));
  registerKvMetadataCommands(kv, context, onExit);
}
