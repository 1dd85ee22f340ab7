/**
 * Where the server is and how to trust it, and which token to send: the global options
 * `--address`, `--ca-cert` and `--token-file`, and the environment (PRODUCT.md "Address and
 * trust"). Token precedence: `--token-file`, then COFFER_TOKEN, then the token file that
 * `coffer login` writes (`$HOME/.coffer-token`, 0600).
 */
import { readFile } from 'node:fs/promises';

import type { CofferClientOptions } from '@coffer/client';

import type { CliContext } from './cli_context.ts';
import { CliError, CliErrorCode, systemCodeOf } from './errors.ts';
import { loginTokenPath, maybeReadLoginToken, readTokenFile } from './token_file.ts';

/** The default address: the gRPC listener of a local node (PRODUCT.md "Ports"). */
export const defaultAddress = 'https://127.0.0.1:8200';

/** The global options every command takes. */
export interface GlobalOptions {
  readonly address?: string;
  readonly caCert?: string;
  readonly tokenFile?: string;
}

/** `--address`, else COFFER_ADDR, else {@link defaultAddress}. */
export function resolveAddress(
  options: GlobalOptions,
  env: Readonly<Record<string, string | undefined>>,
): string {
  return options.address ?? nonEmpty(env['COFFER_ADDR']) ?? defaultAddress;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** The PEM of `--ca-cert`, else of the file COFFER_CACERT names. */
export async function resolveCaCert(
  options: GlobalOptions,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Buffer> {
  const path = options.caCert ?? nonEmpty(env['COFFER_CACERT']);
  if (path === undefined) {
    throw new CliError(
      CliErrorCode.caCertMissing,
      'Pass --ca-cert <file> or set COFFER_CACERT to the PEM file of the CA that signed the ' +
        "server's certificate (a dev server prints its path)",
    );
  }
  try {
    return await readFile(path);
  } catch (error) {
    throw new CliError(
      CliErrorCode.fileUnreadable,
      `Check the CA certificate file "${path}": reading it failed (${systemCodeOf(error)})`,
      { cause: error },
    );
  }
}

/** The token to send, by precedence; undefined when there is none. */
export async function resolveToken(
  options: GlobalOptions,
  context: Pick<CliContext, 'env' | 'homeDirectory'>,
): Promise<string | undefined> {
  if (options.tokenFile !== undefined) {
    return readTokenFile(options.tokenFile);
  }
  const fromEnv = nonEmpty(context.env['COFFER_TOKEN']);
  if (fromEnv !== undefined) {
    return fromEnv;
  }
  return maybeReadLoginToken(loginTokenPath(context.homeDirectory));
}

/** The three ways to give a token, for messages. */
const tokenWays = 'pass --token-file <file>, log in with "coffer login", or set COFFER_TOKEN';

/** The token, or COFFER_CLI_TOKEN_MISSING (before any call) when there is none. */
async function requireToken(
  options: GlobalOptions,
  context: Pick<CliContext, 'env' | 'homeDirectory'>,
): Promise<string> {
  const token = await resolveToken(options, context);
  if (token !== undefined) {
    return token;
  }
  throw new CliError(
    CliErrorCode.tokenMissing,
    options.tokenFile === undefined
      ? `Give a token: ${tokenWays}; none was found`
      : `Give a token: the token file "${options.tokenFile}" is empty; ${tokenWays}`,
  );
}

/**
 * The client options for a command; `withToken: false` sends none (status, init, unseal).
 * Throws COFFER_CLI_TOKEN_MISSING when a token is needed and none is given.
 */
export async function resolveClientOptions(
  options: GlobalOptions,
  context: Pick<CliContext, 'env' | 'homeDirectory'>,
  withToken = true,
): Promise<CofferClientOptions> {
  const caCert = await resolveCaCert(options, context.env);
  const token = withToken ? await requireToken(options, context) : undefined;
  return {
    address: resolveAddress(options, context.env),
    caCert,
    ...(token === undefined ? {} : { token }),
  };
}
