/**
 * `coffer operator seal-migrate init|submit|status|cancel`: moves the cluster's seal from
 * Shamir to PKCS#11 or back, online, on the active node (docs/design/seal.md, "Seal migration
 * in a cluster"). Like `operator rekey`: `init --type pkcs11|shamir` starts an attempt (a
 * PKCS#11 target's settings come from the active node's `seal_migration_target` config, never
 * from here), `submit` reads one current share (unseal shares from Shamir, recovery shares from
 * PKCS#11) from a no-echo prompt or stdin and submits it with `--nonce` or the running
 * attempt's; the last one answers the new shares, printed once. Every subcommand needs a token
 * with sudo on `sys/seal-migration`.
 */
import type { Command } from 'commander';

import type { CliContext } from './cli_context.ts';
import { OutputFormat } from './cli_io.ts';
import { parseCount } from './arg_parsers.ts';
import {
  action,
  argsOf,
  optionsOf,
  withClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { CliError, CliErrorCode } from './errors.ts';
import { attemptNonce } from './operator_rekey.ts';
import { formatOption, printData, stableJson } from './output.ts';
import { readSecret, refuseSecretArgument } from './secret_input.ts';

interface InitOptions extends FormatOptions {
  readonly type: string;
  readonly keyShares?: number;
  readonly keyThreshold?: number;
  readonly generateHsmKey?: boolean;
}

interface SubmitOptions extends FormatOptions {
  readonly nonce?: string;
}

const migrationPath = 'sys/seal-migration';

function strings(value: unknown): string[] {
  return Array.isArray(value)
    ? value.filter((item): item is string => typeof item === 'string')
    : [];
}

/** The new shares, once, and what to do next: restart every node with the new seal config. */
function newSharesText(data: Readonly<Record<string, unknown>>): string {
  const toHsm = data['seal_type'] === 'pkcs11';
  const shares = strings(toHsm ? data['recovery_keys'] : data['keys']);
  const label = toHsm ? 'Recovery Key' : 'Unseal Key';
  const lines = shares.map((share, index) => `${label} ${String(index + 1)}: ${share}`);
  lines.push(
    '',
    `The cluster's seal is now ${String(data['seal_type'])}. These ${String(shares.length)} ` +
      'shares are shown once: hand each to a different person now; the old shares no longer ' +
      'work. Restart the nodes one at a time with the new seal config, each once its ' +
      '`coffer status` shows the new Stored Seal Type' +
      (toHsm ? ': each unseals itself through the HSM.' : ', and unseal each with the new shares.'),
  );
  return `${lines.join('\n')}\n`;
}

function registerInit(migrate: Command, context: CliContext, onExit: OnExit): void {
  migrate
    .command('init')
    .description('Start a seal migration on the active node (token with sudo)')
    .requiredOption('--type <type>', 'the seal to migrate to: pkcs11 or shamir')
    .option('--key-shares <n>', 'number of new shares (default 5)', parseCount)
    .option('--key-threshold <n>', 'new shares needed (default 3)', parseCount)
    .option('--generate-hsm-key', 'pkcs11: generate the wrapping key inside the HSM')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const options = optionsOf<InitOptions>(command);
        if (options.type !== 'pkcs11' && options.type !== 'shamir') {
          throw new CliError(
            CliErrorCode.invalidArgument,
            `Give --type as pkcs11 or shamir (got ${JSON.stringify(options.type.slice(0, 16))})`,
          );
        }
        const body = {
          type: options.type,
          ...(options.keyShares === undefined ? {} : { secret_shares: options.keyShares }),
          ...(options.keyThreshold === undefined ? {} : { secret_threshold: options.keyThreshold }),
          ...(options.generateHsmKey === true ? { generate_hsm_key: true } : {}),
        };
        const response = await withClient(context, command, (client) =>
          client.logical.write(`${migrationPath}/init`, body),
        );
        printData(context, options.format, response.data);
        return undefined;
      }),
    );
}

function registerSubmit(migrate: Command, context: CliContext, onExit: OnExit): void {
  migrate
    .command('submit')
    .description(
      'Submit one current share (unseal, or recovery with an HSM) from a no-echo prompt or stdin',
    )
    .argument('[key]', 'refused: shares are read from a no-echo prompt or stdin')
    .option('--nonce <nonce>', 'the attempt to submit a share to (default: the running one)')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        refuseSecretArgument(argsOf(command)[0] as string | undefined, 'Migration share');
        const options = optionsOf<SubmitOptions>(command);
        const key = await readSecret(context.input, 'Migration share');
        const response = await withClient(context, command, async (client) => {
          const nonce = await attemptNonce(options.nonce, () => client.logical.read(migrationPath));
          return client.logical.write(`${migrationPath}/update`, { key, nonce });
        });
        if (options.format === OutputFormat.json) {
          context.stdout(stableJson(response.data));
        } else if (response.data['complete'] === true) {
          context.stdout(newSharesText(response.data));
        } else {
          printData(context, options.format, response.data);
        }
        return undefined;
      }),
    );
}

/** Adds `coffer operator seal-migrate`. */
export function registerSealMigrateCommand(
  operator: Command,
  context: CliContext,
  onExit: OnExit,
): void {
  const migrate = operator
    .command('seal-migrate')
    .description('Move the cluster to another seal (Shamir ↔ PKCS#11), online, node by node');
  registerInit(migrate, context, onExit);
  registerSubmit(migrate, context, onExit);
  migrate
    .command('status')
    .description('Show the running seal migration (token with sudo)')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const response = await withClient(context, command, (client) =>
          client.logical.read(migrationPath),
        );
        printData(context, optionsOf<FormatOptions>(command).format, response.data);
        return undefined;
      }),
    );
  migrate
    .command('cancel')
    .description('Drop the running seal migration and the shares given to it; nothing changes')
    .action(
      action(context, onExit, async (command) => {
        await withClient(context, command, (client) => client.logical.delete(migrationPath));
        context.stdout('Success! Canceled the seal migration.\n');
        return undefined;
      }),
    );
}
