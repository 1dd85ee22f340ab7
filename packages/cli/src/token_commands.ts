/**
 * `coffer token create|lookup|renew|revoke` (Vault's names). lookup, renew and revoke act on the
 * caller's own token by default, on another token read from the prompt or stdin with `-`, or on
 * `--accessor <accessor>`. A token is never taken as an argument, and lookup never prints one.
 */
import type { Command } from 'commander';

import type { CofferResponse } from '@coffer/client';

import type { CliClient, CliContext } from './cli_context.ts';
import {
  action,
  argsOf,
  optionsOf,
  withClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { printAuth } from './auth_output.ts';
import { formatOption, printResponse, withoutId } from './output.ts';
import { readSecret, refuseSecretArgument } from './secret_input.ts';
import { registerTokenCreateCommand } from './token_create_command.ts';

interface TargetOptions extends FormatOptions {
  readonly accessor?: string;
  readonly increment?: string;
}

/** Who a lookup, renew or revoke is about. */
type Target =
  | { readonly kind: 'self' }
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'accessor'; readonly accessor: string };

async function targetOf(context: CliContext, command: Command): Promise<Target> {
  const argument = argsOf(command)[0] as string | undefined;
  const { accessor } = optionsOf<TargetOptions>(command);
  if (argument === '-') {
    return { kind: 'token', token: await readSecret(context.input, 'Token') };
  }
  refuseSecretArgument(argument, 'Token');
  return accessor === undefined ? { kind: 'self' } : { kind: 'accessor', accessor };
}

async function lookup(client: CliClient, target: Target): Promise<CofferResponse> {
  switch (target.kind) {
    case 'self':
      return client.auth.tokenLookup();
    case 'token':
      return client.auth.tokenLookup({ token: target.token });
    case 'accessor':
      return client.logical.write('auth/token/lookup-accessor', { accessor: target.accessor });
  }
}

async function renew(
  client: CliClient,
  target: Target,
  increment: string | undefined,
): Promise<CofferResponse> {
  const by = increment === undefined ? {} : { increment };
  switch (target.kind) {
    case 'self':
      return client.auth.tokenRenew(by);
    case 'token':
      return client.auth.tokenRenew({ token: target.token, ...by });
    case 'accessor':
      return client.logical.write('auth/token/renew-accessor', {
        accessor: target.accessor,
        ...by,
      });
  }
}

async function revoke(client: CliClient, target: Target): Promise<CofferResponse> {
  switch (target.kind) {
    case 'self':
      return client.auth.tokenRevoke();
    case 'token':
      return client.auth.tokenRevoke({ token: target.token });
    case 'accessor':
      return client.auth.tokenRevokeAccessor({ accessor: target.accessor });
  }
}

function targetCommand(token: Command, name: string, description: string): Command {
  return token
    .command(name)
    .description(description)
    .argument('[-]', "'-' reads the token from a no-echo prompt or stdin (default: your own)")
    .option('--accessor <accessor>', 'act on the token with this accessor');
}

/** Adds `coffer token`. */
export function registerTokenCommands(program: Command, context: CliContext, onExit: OnExit): void {
  const token = program.command('token').description('Create, look up, renew and revoke tokens');
  registerTokenCreateCommand(token, context, onExit);
  targetCommand(token, 'lookup', 'Print the properties of a token (never the token itself)')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const target = await targetOf(context, command);
        const response = await withClient(context, command, (client) => lookup(client, target));
        printResponse(context, optionsOf<FormatOptions>(command).format, withoutId(response));
        return undefined;
      }),
    );
  targetCommand(token, 'renew', "Renew a token's lease")
    .option('--increment <duration>', 'the new TTL asked for, e.g. 1h')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const target = await targetOf(context, command);
        const options = optionsOf<TargetOptions>(command);
        const response = await withClient(context, command, (client) =>
          renew(client, target, options.increment),
        );
        printAuth(context, response, options);
        return undefined;
      }),
    );
  targetCommand(token, 'revoke', 'Revoke a token and its children').action(
    action(context, onExit, async (command) => {
      const target = await targetOf(context, command);
      await withClient(context, command, (client) => revoke(client, target));
      context.stdout('Success! Revoked token (if it existed)\n');
      return undefined;
    }),
  );
}
