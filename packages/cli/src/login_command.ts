/**
 * `coffer login --method token|approle`: authenticates and stores the token in
 * `$HOME/.coffer-token` (mode 0600, written atomically), where later commands find it. The token
 * is never printed, except with `--print-token`, which (as Vault's `-token-only`) prints only the
 * token and stores nothing. `--no-store` skips the file.
 *
 * Secrets come from the prompt or stdin: the token (method token) and the secret_id (method
 * approle, or `--secret-id-file`). The role_id is not secret and may be an option.
 */
import { Option, type Command } from 'commander';

import type { CofferResponse } from '@coffer/client';

import { printAuth } from './auth_output.ts';
import type { CliClient, CliContext } from './cli_context.ts';
import {
  action,
  optionsOf,
  withAnonymousClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { CliError, CliErrorCode } from './errors.ts';
import { formatOption, printResponse, withoutId } from './output.ts';
import { readSecret } from './secret_input.ts';
import { loginTokenPath, readTokenFile, writeLoginToken } from './token_file.ts';

interface LoginOptions extends FormatOptions {
  readonly method: 'token' | 'approle';
  readonly path?: string;
  readonly roleId?: string;
  readonly secretIdFile?: string;
  readonly store: boolean;
  readonly printToken?: boolean;
}

/** The token and what to show of the login. */
interface LoginOutcome {
  readonly token: string;
  readonly response: CofferResponse;
}

async function loginWithToken(context: CliContext, client: CliClient): Promise<LoginOutcome> {
  const token = await readSecret(context.input, 'Token');
  const response = await client.auth.tokenLookup(undefined, { token });
  return { token, response: withoutId(response) };
}

async function loginWithAppRole(
  context: CliContext,
  client: CliClient,
  options: LoginOptions,
): Promise<LoginOutcome> {
  if (options.roleId === undefined) {
    throw new CliError(CliErrorCode.invalidArgument, 'Pass --role-id with --method approle');
  }
  const fromFile =
    options.secretIdFile === undefined ? undefined : await readTokenFile(options.secretIdFile);
  const secretId = fromFile ?? (await readSecret(context.input, 'Secret ID'));
  const response = await client.auth.appRoleLogin({
    mount: options.path ?? 'approle',
    roleId: options.roleId,
    secretId,
  });
  const token = response.auth?.clientToken ?? '';
  if (token === '') {
    throw new CliError(
      CliErrorCode.unexpectedResponse,
      'Check the server version: the AppRole login answered without a token',
    );
  }
  return { token, response };
}

async function runLogin(context: CliContext, command: Command): Promise<undefined> {
  const options = optionsOf<LoginOptions>(command);
  const outcome = await withAnonymousClient(context, command, (client) =>
    options.method === 'token'
      ? loginWithToken(context, client)
      : loginWithAppRole(context, client, options),
  );
  if (options.printToken === true) {
    context.stdout(`${outcome.token}\n`);
    return undefined;
  }
  if (options.store) {
    const path = loginTokenPath(context.homeDirectory);
    await writeLoginToken(path, outcome.token);
    context.stderr(
      `Success! You are now authenticated. The token is stored in ${path} (mode 0600).\n`,
    );
  } else {
    context.stderr(
      'The token was neither stored nor printed: log in with --print-token to see it.\n',
    );
  }
  if (outcome.response.auth === undefined) {
    printResponse(context, options.format, outcome.response);
  } else {
    printAuth(context, outcome.response, { format: options.format });
  }
  return undefined;
}

/** Adds `coffer login`. */
export function registerLoginCommand(program: Command, context: CliContext, onExit: OnExit): void {
  program
    .command('login')
    .description(`Authenticate and store the token in $HOME/.coffer-token (0600)`)
    .addOption(
      new Option('--method <method>', 'the auth method')
        .choices(['token', 'approle'])
        .default('token'),
    )
    .option('--path <mount>', 'the auth mount (default: approle)')
    .option('--role-id <id>', 'approle: the role_id')
    .option(
      '--secret-id-file <file>',
      'approle: read the secret_id from this file (else prompt or stdin)',
    )
    .option('--no-store', 'do not write the token file')
    .option('--print-token', 'print only the token and store nothing (as Vault -token-only)')
    .addOption(formatOption())
    .action(action(context, onExit, (command) => runLogin(context, command)));
}
