/**
 * `coffer kv metadata get|put|delete`: a KV v2 secret's metadata (versions, max_versions,
 * cas_required, delete_version_after, custom_metadata). `metadata delete` removes every version
 * and the metadata for good.
 */
import { Option, type Command } from 'commander';

import { collect, parseCount } from './arg_parsers.ts';
import type { CliContext } from './cli_context.ts';
import {
  action,
  argsOf,
  optionsOf,
  withClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { parseKvPath } from './kv_path.ts';
import { parseLiteralPairs } from './kv_values.ts';
import { formatOption, printResponse } from './output.ts';

interface MetadataOptions extends FormatOptions {
  readonly mount?: string;
  readonly maxVersions?: number;
  readonly casRequired?: 'true' | 'false';
  readonly deleteVersionAfter?: string;
  readonly customMetadata?: string[];
}

async function runPut(context: CliContext, command: Command): Promise<undefined> {
  const options = optionsOf<MetadataOptions>(command);
  const target = parseKvPath(argsOf(command)[0] as string, options);
  const custom = options.customMetadata;
  const request = {
    ...target,
    ...(options.maxVersions === undefined ? {} : { maxVersions: options.maxVersions }),
    ...(options.casRequired === undefined ? {} : { casRequired: options.casRequired === 'true' }),
    ...(options.deleteVersionAfter === undefined
      ? {}
      : { deleteVersionAfter: options.deleteVersionAfter }),
    ...(custom === undefined
      ? {}
      : { customMetadata: parseLiteralPairs(custom, '--custom-metadata') }),
  };
  await withClient(context, command, (client) => client.kv.writeMetadata(request));
  context.stdout(`Success! Metadata written at: ${target.mount}/${target.path}\n`);
  return undefined;
}

function metadataCommand(metadata: Command, name: string, description: string): Command {
  return metadata
    .command(name)
    .description(description)
    .argument('<path>', 'mount/path of the secret, or the path with --mount')
    .option('--mount <mount>', 'the KV v2 mount (default: the first segment of the path)');
}

/** Adds `coffer kv metadata get|put|delete`. */
export function registerKvMetadataCommands(kv: Command, context: CliContext, onExit: OnExit): void {
  const metadata = kv.command('metadata').description("Read and write a secret's metadata");
  metadataCommand(metadata, 'get', "Read a secret's metadata and version list")
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const options = optionsOf<MetadataOptions>(command);
        const target = parseKvPath(argsOf(command)[0] as string, options);
        const response = await withClient(context, command, (client) =>
          client.kv.readMetadata(target),
        );
        printResponse(context, options.format, response);
        return undefined;
      }),
    );
  metadataCommand(metadata, 'put', "Change a secret's metadata")
    .option('--max-versions <n>', 'versions to keep (0: the mount default)', parseCount)
    .addOption(
      new Option('--cas-required <bool>', 'require --cas on writes').choices(['true', 'false']),
    )
    .option('--delete-version-after <duration>', 'delete versions this long after writing')
    .option('--custom-metadata <k=v>', 'a custom metadata pair (repeatable)', collect)
    .action(action(context, onExit, (command) => runPut(context, command)));
  metadataCommand(metadata, 'delete', 'Delete every version and the metadata, for good').action(
    action(context, onExit, async (command) => {
      const target = parseKvPath(argsOf(command)[0] as string, optionsOf<MetadataOptions>(command));
      await withClient(context, command, (client) => client.kv.deleteMetadata(target));
      context.stdout(`Success! Data and metadata deleted at: ${target.mount}/${target.path}\n`);
      return undefined;
    }),
  );
}
