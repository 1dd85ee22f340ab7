/**
 * `coffer secrets enable|disable|list|tune` and `coffer auth enable|disable|list` (Vault's
 * names). `enable [--path p] <type>` mounts at `p`, default the type (`secrets enable --version
 * 2 kv` or `secrets enable kv-v2` for KV v2).
 */
import type { Command } from 'commander';

import type { MountEnable } from '@coffer/client';

import { collect } from './arg_parsers.ts';
import type { CliContext } from './cli_context.ts';
import {
  action,
  argsOf,
  optionsOf,
  withClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { parseLiteralPairs } from './kv_values.ts';
import { printMounts } from './mount_table.ts';
import { formatOption } from './output.ts';

interface MountOptions extends FormatOptions {
  readonly path?: string;
  readonly description?: string;
  readonly defaultLeaseTtl?: string;
  readonly maxLeaseTtl?: string;
  readonly option?: string[];
  readonly version?: string;
}

/** The enable request of a type argument and its options. */
export function mountEnableRequest(type: string, options: MountOptions): MountEnable {
  const pairs = parseLiteralPairs(options.option ?? [], '--option');
  const mountOptions =
    options.version === undefined ? pairs : { ...pairs, version: options.version };
  return {
    path: options.path ?? type,
    type,
    ...(Object.keys(mountOptions).length === 0 ? {} : { options: mountOptions }),
    ...(options.description === undefined ? {} : { description: options.description }),
    ...(options.defaultLeaseTtl === undefined ? {} : { defaultLeaseTtl: options.defaultLeaseTtl }),
    ...(options.maxLeaseTtl === undefined ? {} : { maxLeaseTtl: options.maxLeaseTtl }),
  };
}

/** What differs between `secrets` and `auth`. */
interface MountKind {
  readonly name: 'secrets' | 'auth';
  readonly noun: string;
  /** The noun with its article: "a secrets engine", "an auth method". */
  readonly aNoun: string;
  readonly enable: 'enableSecrets' | 'enableAuth';
  readonly disable: 'disableSecrets' | 'disableAuth';
  readonly list: 'listSecrets' | 'listAuth';
}

function registerKind(
  program: Command,
  kind: MountKind,
  run: { context: CliContext; onExit: OnExit },
): Command {
  const { context, onExit } = run;
  const group = program.command(kind.name).description(`Enable, disable and list ${kind.noun}s`);
  group
    .command('enable')
    .description(`Enable ${kind.aNoun}`)
    .argument('<type>', `the ${kind.noun} type`)
    .option('--path <path>', 'where to mount it (default: the type)')
    .option('--description <text>', 'a description')
    .option('--default-lease-ttl <duration>', 'the default lease TTL')
    .option('--max-lease-ttl <duration>', 'the maximum lease TTL')
    .option('--option <k=v>', 'an option (repeatable)', collect)
    .action(
      action(context, onExit, async (command) => {
        const request = mountEnableRequest(
          argsOf(command)[0] as string,
          optionsOf<MountOptions>(command),
        );
        await withClient(context, command, (client) => client.mounts[kind.enable](request));
        context.stdout(`Success! Enabled the ${request.type} ${kind.noun} at: ${request.path}/\n`);
        return undefined;
      }),
    );
  group
    .command('disable')
    .description(`Disable ${kind.aNoun} (its data is removed)`)
    .argument('<path>', 'the mount path')
    .action(
      action(context, onExit, async (command) => {
        const path = argsOf(command)[0] as string;
        await withClient(context, command, (client) => client.mounts[kind.disable]({ path }));
        // NB: no "(if it existed)": the server refuses a path with nothing mounted.
        context.stdout(`Success! Disabled the ${kind.noun} at: ${path}\n`);
        return undefined;
      }),
    );
  group
    .command('list')
    .description(`List the ${kind.noun}s`)
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const response = await withClient(context, command, (client) => client.mounts[kind.list]());
        printMounts(context, optionsOf<FormatOptions>(command).format, response.data);
        return undefined;
      }),
    );
  return group;
}

/** Adds `coffer secrets` and `coffer auth`. */
export function registerMountCommands(program: Command, context: CliContext, onExit: OnExit): void {
  const secrets = registerKind(
    program,
    {
      name: 'secrets',
      noun: 'secrets engine',
      aNoun: 'a secrets engine',
      enable: 'enableSecrets',
      disable: 'disableSecrets',
      list: 'listSecrets',
    },
    { context, onExit },
  );
  secrets.commands
    .find((command) => command.name() === 'enable')
    ?.option('--version <n>', 'the engine version (kv: 2 for KV v2)');
  secrets
    .command('tune')
    .description('Change the lease TTLs or description of a secrets engine')
    .argument('<path>', 'the mount path')
    .option('--description <text>', 'a description')
    .option('--default-lease-ttl <duration>', 'the default lease TTL')
    .option('--max-lease-ttl <duration>', 'the maximum lease TTL')
    .action(
      action(context, onExit, async (command) => {
        const path = argsOf(command)[0] as string;
        const options = optionsOf<MountOptions>(command);
        const request = {
          path,
          ...(options.description === undefined ? {} : { description: options.description }),
          ...(options.defaultLeaseTtl === undefined
            ? {}
            : { defaultLeaseTtl: options.defaultLeaseTtl }),
          ...(options.maxLeaseTtl === undefined ? {} : { maxLeaseTtl: options.maxLeaseTtl }),
        };
        await withClient(context, command, (client) => client.mounts.tune(request));
        context.stdout(`Success! Tuned the secrets engine at: ${path}\n`);
        return undefined;
      }),
    );
  registerKind(
    program,
    {
      name: 'auth',
      noun: 'auth method',
      aNoun: 'an auth method',
      enable: 'enableAuth',
      disable: 'disableAuth',
      list: 'listAuth',
    },
    { context, onExit },
  );
}
