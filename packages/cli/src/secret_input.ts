/**
 * Reading a secret (an unseal share, a token, a secret_id, a value to hash): from a no-echo
 * prompt on a terminal, else one line of stdin. Never from an argument, which `ps` and shell
 * history would show (PRODUCT.md: "unseal shares are read from a no-echo prompt or stdin").
 */
import type { CliInput } from './cli_context.ts';
import { CliError, CliErrorCode } from './errors.ts';

/**
 * Reads one secret; `label` names it in the prompt and in the error ("Unseal Key").
 * Throws COFFER_CLI_INPUT_MISSING when nothing (or an empty line) was read.
 */
export async function readSecret(input: CliInput, label: string): Promise<string> {
  const value = input.isTty
    ? await input.readHidden(`${label} (will be hidden): `)
    : await input.readLine();
  const secret = value?.trim() ?? '';
  if (secret === '') {
    throw new CliError(
      CliErrorCode.inputMissing,
      `Type the ${label.toLowerCase()} at the prompt or pipe it on stdin: none was read`,
    );
  }
  return secret;
}

/** Refuses a secret given as an argument, saying where it must come from instead. */
export function refuseSecretArgument(argument: string | undefined, label: string): void {
  if (argument !== undefined) {
    throw new CliError(
      CliErrorCode.invalidArgument,
      `Give the ${label.toLowerCase()} at the no-echo prompt or on stdin, not as an argument ` +
        '(arguments show in ps and shell history); the argument was ignored',
    );
  }
}
