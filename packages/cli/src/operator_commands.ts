/**
 * `coffer operator init|unseal|seal|step-down|rotate|key-status` (Vault's names). Init and
 * unseal need no token; seal, step-down, rotate and key-status need one with sudo. A share is
 * read from a no-echo prompt or stdin, never from an argument.
 */
import type { Command } from 'commander';

import type { CliContext } from './cli_context.ts';
import { OutputFormat } from './cli_io.ts';
import { parseCount } from './arg_parsers.ts';
import {
  action,
  argsOf,
  optionsOf,
  withAnonymousClient,
  withClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { formatOption, formatTable, printData, stableJson } from './output.ts';
import { readSecret, refuseSecretArgument } from './secret_input.ts';
import { statusRows } from './status_command.ts';

interface InitOptions extends FormatOptions {
  readonly keyShares: number;
  readonly keyThreshold: number;
  readonly generateHsmKey?: boolean;
  readonly breakGlassShares?: number;
  readonly breakGlassThreshold?: number;
}

function strings(value: unknown): string[] {
  return Array.isArray(value)
    ? value.filter((item): item is string => typeof item === 'string')
    : [];
}

/** Vault's init text: the shares, the root token, and what to do with them. */
function initText(data: Readonly<Record<string, unknown>>, options: InitOptions): string {
  const lines = [
    ...strings(data['keys']).map((key, index) => `Unseal Key ${index + 1}: ${key}`),
    ...strings(data['recovery_keys']).map((key, index) => `Recovery Key ${index + 1}: ${key}`),
    ...strings(data['break_glass_keys']).map(
      (key, index) => `Break-glass Key ${index + 1}: ${key}`,
    ),
    '',
    `Initial Root Token: ${String(data['root_token'])}`,
    '',
    `Coffer initialized with ${options.keyShares} key shares and a key threshold of ` +
      `${options.keyThreshold}. These shares and the root token are shown once: hand each share ` +
      'to a different person now. Unseal every node with `coffer operator unseal` and ' +
      `${options.keyThreshold} shares. Revoke the root token once other tokens can do its work.`,
  ];
  return `${lines.join('\n')}\n`;
}

async function runInit(context: CliContext, command: Command): Promise<undefined> {
  const options = optionsOf<InitOptions>(command);
  const response = await withAnonymousClient(context, command, (client) =>
    client.sys.init({
      secretShares: options.keyShares,
      secretThreshold: options.keyThreshold,
      ...(options.generateHsmKey === true ? { generateHsmKey: true } : {}),
      ...(options.breakGlassShares === undefined
        ? {}
        : { breakGlassShares: options.breakGlassShares }),
      ...(options.breakGlassThreshold === undefined
        ? {}
        : { breakGlassThreshold: options.breakGlassThreshold }),
    }),
  );
  context.stdout(
    options.format === OutputFormat.json
      ? stableJson(response.data)
      : initText(response.data, options),
  );
  return undefined;
}

interface UnsealOptions extends FormatOptions {
  readonly reset?: boolean;
  readonly migrate?: boolean;
  readonly breakGlass?: boolean;
}

async function runUnseal(context: CliContext, command: Command): Promise<undefined> {
  refuseSecretArgument(argsOf(command)[0] as string | undefined, 'Unseal key');
  const options = optionsOf<UnsealOptions>(command);
  const request =
    options.reset === true
      ? { reset: true }
      : {
          key: await readSecret(
            context.input,
            options.breakGlass === true ? 'Break-glass key' : 'Unseal key',
          ),
          ...(options.migrate === true ? { migrate: true } : {}),
          ...(options.breakGlass === true ? { breakGlass: true } : {}),
        };
  const response = await withAnonymousClient(context, command, (client) =>
    client.sys.unseal(request),
  );
  context.stdout(
    options.format === OutputFormat.json
      ? stableJson(response.data)
      : formatTable(['Key', 'Value'], statusRows(response.data)),
  );
  return undefined;
}

function registerInit(operator: Command, context: CliContext, onExit: OnExit): void {
  operator
    .command('init')
    .description('Initialize the cluster: prints the unseal shares and the root token once')
    .option('--key-shares <n>', 'number of unseal shares', parseCount, 5)
    .option('--key-threshold <n>', 'shares needed to unseal', parseCount, 3)
    .option('--generate-hsm-key', 'HSM seal: generate the wrapping key inside the HSM')
    .option('--break-glass-shares <n>', 'HSM seal: number of break-glass shares', parseCount)
    .option('--break-glass-threshold <n>', 'HSM seal: break-glass shares needed', parseCount)
    .addOption(formatOption())
    .action(action(context, onExit, (command) => runInit(context, command)));
}

function registerUnseal(operator: Command, context: CliContext, onExit: OnExit): void {
  operator
    .command('unseal')
    .description('Submit one unseal share, read from a no-echo prompt or one line of stdin')
    .argument('[key]', 'refused: a share on the command line shows in ps and shell history')
    .option('--reset', 'drop the shares submitted so far')
    .option('--migrate', "Vault's offline seal migration: refused, Coffer migrates seals online")
    .option('--break-glass', 'the share is a break-glass share (HSM seal without its HSM)')
    .addOption(formatOption())
    .action(action(context, onExit, (command) => runUnseal(context, command)));
}

/** A sudo call that answers nothing worth a table: prints `Success! <text>`. */
function registerSimple(
  operator: Command,
  spec: { readonly name: string; readonly description: string; readonly done: string },
  run: {
    readonly context: CliContext;
    readonly onExit: OnExit;
    readonly call: 'seal' | 'stepDown' | 'rotate';
  },
): void {
  const { context, onExit, call } = run;
  operator
    .command(spec.name)
    .description(spec.description)
    .action(
      action(context, onExit, async (command) => {
        await withClient(context, command, (client) => client.sys[call]());
        context.stdout(`Success! ${spec.done}\n`);
        return undefined;
      }),
    );
}

/** Adds `coffer operator` with init, unseal, seal, step-down, rotate and key-status. */
export function registerOperatorCommands(
  program: Command,
  context: CliContext,
  onExit: OnExit,
): Command {
  const operator = program
    .command('operator')
    .description('Operate the cluster: init, unseal, seal, keys');
  registerInit(operator, context, onExit);
  registerUnseal(operator, context, onExit);
  const simple = [
    {
      name: 'seal',
      description: 'Seal the node (token with sudo)',
      done: 'Coffer is sealed.',
      call: 'seal',
    },
    {
      name: 'step-down',
      description: 'Make the active node step down (token with sudo)',
      done: 'Stepped down.',
      call: 'stepDown',
    },
    {
      name: 'rotate',
      description: 'Rotate the encryption key: a new keyring term (token with sudo)',
      done: 'Rotated the encryption key.',
      call: 'rotate',
    },
  ] as const;
  for (const { call, ...spec } of simple) {
    registerSimple(operator, spec, { context, onExit, call });
  }
  operator
    .command('key-status')
    .description('Print the encryption key term and install time (token with sudo)')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const response = await withClient(context, command, (client) => client.sys.keyStatus());
        printData(context, optionsOf<FormatOptions>(command).format, response.data);
        return undefined;
      }),
    );
  return operator;
}
