/**
 * `coffer operator rekey`: new unseal shares from a quorum of the current ones (Vault's
 * `operator rekey`). `--init --key-shares N --key-threshold T` starts an attempt, `--status`
 * shows it, `--cancel` drops it; with none of these, one current share is read from a no-echo
 * prompt or stdin and submitted (with `--nonce`, else the running attempt's nonce). The last
 * share answers with the new shares, printed once. Needs no token.
 */
import type { Command } from 'commander';

import type { CliClient, CliContext } from './cli_context.ts';
import { OutputFormat } from './cli_io.ts';
import { parseCount } from './arg_parsers.ts';
import {
  action,
  argsOf,
  optionsOf,
  withAnonymousClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { CliError, CliErrorCode } from './errors.ts';
import { formatOption, printData, stableJson } from './output.ts';
import { readSecret, refuseSecretArgument } from './secret_input.ts';

interface RekeyOptions extends FormatOptions {
  readonly init?: boolean;
  readonly cancel?: boolean;
  readonly status?: boolean;
  readonly keyShares: number;
  readonly keyThreshold: number;
  readonly nonce?: string;
}

/** The nonce to submit with: `--nonce`, else the running attempt's. */
export async function attemptNonce(
  given: string | undefined,
  status: () => Promise<{ readonly data: Readonly<Record<string, unknown>> }>,
): Promise<string> {
  if (given !== undefined) {
    return given;
  }
  const nonce = (await status()).data['nonce'];
  if (typeof nonce !== 'string' || nonce === '') {
    throw new CliError(
      CliErrorCode.invalidArgument,
      'Start an attempt with --init first, or pass --nonce: no attempt is running',
    );
  }
  return nonce;
}

function printNewShares(context: CliContext, data: Readonly<Record<string, unknown>>): void {
  const keys = data['keys'];
  const shares = Array.isArray(keys) ? keys.map(String) : [];
  const lines = shares.map((share, index) => `Key ${index + 1}: ${share}`);
  lines.push(
    '',
    `Rekeyed to ${shares.length} new shares. They are shown once: hand each to a different ` +
      'person now; the old shares no longer unseal this cluster.',
  );
  context.stdout(`${lines.join('\n')}\n`);
}

async function submitShare(
  context: CliContext,
  client: CliClient,
  options: RekeyOptions,
): Promise<void> {
  const key = await readSecret(context.input, 'Rekey share');
  const nonce = await attemptNonce(options.nonce, () => client.sys.rekeyStatus());
  const response = await client.sys.rekeyUpdate({ key, nonce });
  const done = Array.isArray(response.data['keys']);
  if (options.format === OutputFormat.json) {
    context.stdout(stableJson(response.data));
  } else if (done) {
    printNewShares(context, response.data);
  } else {
    printData(context, options.format, response.data);
  }
}

async function runRekey(context: CliContext, command: Command): Promise<undefined> {
  refuseSecretArgument(argsOf(command)[0] as string | undefined, 'Rekey share');
  const options = optionsOf<RekeyOptions>(command);
  await withAnonymousClient(context, command, async (client) => {
    if (options.init === true) {
      const response = await client.sys.rekeyInit({
        secretShares: options.keyShares,
        secretThreshold: options.keyThreshold,
      });
      printData(context, options.format, response.data);
    } else if (options.cancel === true) {
      await client.sys.rekeyCancel();
      context.stdout('Success! Canceled the rekey attempt.\n');
    } else if (options.status === true) {
      printData(context, options.format, (await client.sys.rekeyStatus()).data);
    } else {
      await submitShare(context, client, options);
    }
  });
  return undefined;
}

/** Adds `coffer operator rekey`. */
export function registerRekeyCommand(operator: Command, context: CliContext, onExit: OnExit): void {
  operator
    .command('rekey')
    .description('Make new unseal shares from a quorum of the current ones')
    .argument('[key]', 'refused: shares are read from a no-echo prompt or stdin')
    .option('--init', 'start a rekey attempt')
    .option('--key-shares <n>', 'with --init: number of new shares', parseCount, 5)
    .option('--key-threshold <n>', 'with --init: new shares needed to unseal', parseCount, 3)
    .option('--status', 'show the running attempt')
    .option('--cancel', 'drop the running attempt and the shares given to it')
    .option('--nonce <nonce>', 'the attempt to submit a share to (default: the running one)')
    .addOption(formatOption())
    .action(action(context, onExit, (command) => runRekey(context, command)));
}
