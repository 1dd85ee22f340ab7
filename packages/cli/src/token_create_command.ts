/**
 * `coffer token create`: a child token of the caller's (or an orphan with `--orphan`), with
 * Vault's flags. The new token is printed: that is what was asked for.
 */
import type { Command } from 'commander';

import type { AuthApi } from '@coffer/client';

import { collect, parseCount } from './arg_parsers.ts';
import type { CliContext } from './cli_context.ts';
import {
  action,
  optionsOf,
  withClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { parseLiteralPairs } from './kv_values.ts';
import { formatOption } from './output.ts';
import { printAuth } from './auth_output.ts';

interface CreateOptions extends FormatOptions {
  readonly policy?: string[];
  readonly ttl?: string;
  readonly explicitMaxTtl?: string;
  readonly period?: string;
  readonly orphan?: boolean;
  readonly defaultPolicy: boolean;
  readonly renewable: boolean;
  readonly useLimit?: number;
  readonly displayName?: string;
  readonly metadata?: string[];
}

/** The tokenCreate request of the options (only what was given). */
export function tokenCreateRequest(options: CreateOptions): Parameters<AuthApi['tokenCreate']>[0] {
  return {
    ...(options.policy === undefined ? {} : { policies: options.policy }),
    ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
    ...(options.explicitMaxTtl === undefined ? {} : { explicitMaxTtl: options.explicitMaxTtl }),
    ...(options.period === undefined ? {} : { period: options.period }),
    ...(options.orphan === true ? { noParent: true } : {}),
    ...(options.defaultPolicy ? {} : { noDefaultPolicy: true }),
    ...(options.renewable ? {} : { renewable: false }),
    ...(options.useLimit === undefined ? {} : { numUses: options.useLimit }),
    ...(options.displayName === undefined ? {} : { displayName: options.displayName }),
    ...(options.metadata === undefined
      ? {}
      : { metadata: parseLiteralPairs(options.metadata, '--metadata') }),
  };
}

/** Adds `coffer token create`. */
export function registerTokenCreateCommand(
  token: Command,
  context: CliContext,
  onExit: OnExit,
): void {
  token
    .command('create')
    .description('Create a token (a child of yours unless --orphan); prints it')
    .option('--policy <name>', 'a policy of the new token (repeatable)', collect)
    .option('--ttl <duration>', 'initial TTL, e.g. 1h')
    .option('--explicit-max-ttl <duration>', 'a TTL the token can never renew past')
    .option('--period <duration>', 'make a periodic token renewable by this period')
    .option('--orphan', 'create a token without a parent (sudo)')
    .option('--no-default-policy', 'leave out the default policy')
    .option('--no-renewable', 'make the token not renewable')
    .option('--use-limit <n>', 'number of uses (0: unlimited)', parseCount)
    .option('--display-name <name>', 'a name to show in lookups and audit lines')
    .option('--metadata <k=v>', 'a metadata pair (repeatable)', collect)
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const options = optionsOf<CreateOptions>(command);
        const request = tokenCreateRequest(options);
        const response = await withClient(context, command, (client) =>
          client.auth.tokenCreate(request),
        );
        printAuth(context, response, { format: options.format, withToken: true });
        return undefined;
      }),
    );
}
