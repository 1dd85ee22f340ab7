/**
 * How a token's auth block prints (token create, token renew, login): Vault's `token_*` rows,
 * or the whole response as JSON. The token itself only when the command was asked for it.
 */
import type { ClientAuth, CofferResponse } from '@coffer/client';

import type { CliContext } from './cli_context.ts';
import { OutputFormat } from './cli_io.ts';
import { formatTable, printResponse, responseJson, stableJson } from './output.ts';

/** The rows of a token's auth block (Vault's `token_*` labels); the token only when asked. */
export function authRows(auth: ClientAuth, withToken: boolean): [string, unknown][] {
  return [
    ...(withToken ? ([['token', auth.clientToken]] as [string, unknown][]) : []),
    ['token_accessor', auth.accessor],
    ['token_duration', auth.leaseDurationSeconds === 0 ? '∞' : `${auth.leaseDurationSeconds}s`],
    ['token_renewable', auth.renewable],
    ['token_policies', auth.tokenPolicies],
    ['policies', auth.policies],
    ['token_meta', auth.metadata],
  ];
}

/** Prints an auth response; the token only with `withToken` (token create, --print-token). */
export function printAuth(
  context: CliContext,
  response: CofferResponse,
  options: { readonly format: OutputFormat; readonly withToken?: boolean },
): void {
  const { format } = options;
  const withToken = options.withToken ?? false;
  if (format === OutputFormat.json) {
    context.stdout(stableJson(responseJson(response, { withToken })));
  } else if (response.auth === undefined) {
    printResponse(context, format, response);
  } else {
    context.stdout(formatTable(['Key', 'Value'], authRows(response.auth, withToken)));
  }
}
