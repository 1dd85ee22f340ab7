/**
 * `coffer operator generate-root`: a new root token from a quorum of shares, delivered XORed
 * with a one-time key that only the requester holds (Vault's `operator generate-root`).
 * `--init [--otp <otp>]` starts an attempt (a one-time key is generated and printed when none
 * is given), `--status` shows it, `--cancel` drops it; with none of these one share is read
 * from a no-echo prompt or stdin and submitted. `--decode <encoded> --otp <otp>` prints the
 * token locally (no server call). Needs no token.
 */
import type { Command } from 'commander';

import type { CliClient, CliContext } from './cli_context.ts';
import { OutputFormat } from './cli_io.ts';
import {
  action,
  argsOf,
  optionsOf,
  withAnonymousClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { CliError, CliErrorCode } from './errors.ts';
import { attemptNonce } from './operator_rekey.ts';
import { formatOption, printData, stableJson } from './output.ts';
import { decodeRootToken, generateRootOtp } from './root_otp.ts';
import { readSecret, refuseSecretArgument } from './secret_input.ts';

interface GenerateRootOptions extends FormatOptions {
  readonly init?: boolean;
  readonly cancel?: boolean;
  readonly status?: boolean;
  readonly otp?: string;
  readonly decode?: string;
  readonly nonce?: string;
}

async function decode(context: CliContext, options: GenerateRootOptions): Promise<void> {
  if (options.otp === undefined || options.decode === undefined) {
    throw new CliError(
      CliErrorCode.invalidArgument,
      'Pass --otp with --decode: the one-time key of the attempt',
    );
  }
  const token = await decodeRootToken(options.decode, options.otp);
  context.stdout(options.format === OutputFormat.json ? stableJson({ token }) : `${token}\n`);
}

async function init(
  context: CliContext,
  client: CliClient,
  options: GenerateRootOptions,
): Promise<void> {
  const generated = options.otp === undefined;
  const otp = options.otp ?? (await generateRootOtp());
  const response = await client.sys.generateRootInit({ otp });
  const data = generated ? { ...response.data, otp } : response.data;
  printData(context, options.format, data);
  if (generated && options.format === OutputFormat.table) {
    context.stderr(
      'Keep the one-time key (otp) above: it is needed to decode the new root token.\n',
    );
  }
}

async function submitShare(
  context: CliContext,
  client: CliClient,
  options: GenerateRootOptions,
): Promise<void> {
  const key = await readSecret(context.input, 'Unseal key');
  const nonce = await attemptNonce(options.nonce, () => client.sys.generateRootStatus());
  const response = await client.sys.generateRootUpdate({ key, nonce });
  printData(context, options.format, response.data);
  const encoded = response.data['encoded_token'] ?? response.data['encoded_root_token'];
  if (typeof encoded === 'string' && options.format === OutputFormat.table) {
    context.stderr(
      'Decode the token with: coffer operator generate-root --decode <encoded> --otp <otp>\n',
    );
  }
}

async function runGenerateRoot(context: CliContext, command: Command): Promise<undefined> {
  refuseSecretArgument(argsOf(command)[0] as string | undefined, 'Unseal key');
  const options = optionsOf<GenerateRootOptions>(command);
  if (options.decode !== undefined) {
    await decode(context, options);
    return undefined;
  }
  await withAnonymousClient(context, command, async (client) => {
    if (options.init === true) {
      await init(context, client, options);
    } else if (options.cancel === true) {
      await client.sys.generateRootCancel();
      context.stdout('Success! Canceled the generate-root attempt.\n');
    } else if (options.status === true) {
      printData(context, options.format, (await client.sys.generateRootStatus()).data);
    } else {
      await submitShare(context, client, options);
    }
  });
  return undefined;
}

/** Adds `coffer operator generate-root`. */
export function registerGenerateRootCommand(
  operator: Command,
  context: CliContext,
  onExit: OnExit,
): void {
  operator
    .command('generate-root')
    .description('Make a new root token from a quorum of shares')
    .argument('[key]', 'refused: shares are read from a no-echo prompt or stdin')
    .option('--init', 'start an attempt (a one-time key is generated unless --otp is given)')
    .option('--otp <otp>', 'the one-time key (with --init or --decode)')
    .option('--status', 'show the running attempt')
    .option('--cancel', 'drop the running attempt')
    .option('--nonce <nonce>', 'the attempt to submit a share to (default: the running one)')
    .option('--decode <encoded>', 'decode the encoded token of a finished attempt (needs --otp)')
    .addOption(formatOption())
    .action(action(context, onExit, (command) => runGenerateRoot(context, command)));
}
