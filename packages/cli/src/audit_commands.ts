/**
 * `coffer audit enable|list|disable|hash|verify` (Vault's names). `enable file --file-path <p>`
 * mounts a file device (at `--path`, default the type); `hash <device>` HMACs a value read from
 * the prompt or stdin with the device's salt, to find it in the log; `verify <file>` checks a
 * file's hash chain offline (audit_verify_command.ts).
 */
import type { Command } from 'commander';

import { collect } from './arg_parsers.ts';
import { runAuditVerify } from './audit_verify_command.ts';
import type { CliContext } from './cli_context.ts';
import { OutputFormat } from './cli_io.ts';
import {
  action,
  argsOf,
  optionsOf,
  withClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { parseLiteralPairs } from './kv_values.ts';
import { printMounts } from './mount_table.ts';
import { formatOption, stableJson } from './output.ts';
import { readSecret } from './secret_input.ts';

interface EnableOptions extends FormatOptions {
  readonly path?: string;
  readonly filePath?: string;
  readonly description?: string;
  readonly option?: string[];
}

async function runEnable(context: CliContext, command: Command): Promise<undefined> {
  const type = argsOf(command)[0] as string;
  const options = optionsOf<EnableOptions>(command);
  const deviceOptions = {
    ...parseLiteralPairs(options.option ?? [], '--option'),
    ...(options.filePath === undefined ? {} : { file_path: options.filePath }),
  };
  const path = options.path ?? type;
  await withClient(context, command, (client) =>
    client.audit.enable({
      path,
      type,
      options: deviceOptions,
      ...(options.description === undefined ? {} : { description: options.description }),
    }),
  );
  context.stdout(`Success! Enabled the ${type} audit device at: ${path}/\n`);
  return undefined;
}

async function runHash(context: CliContext, command: Command): Promise<undefined> {
  const path = argsOf(command)[0] as string;
  const input = await readSecret(context.input, 'Value to hash');
  const response = await withClient(context, command, (client) =>
    client.audit.hash({ path, input }),
  );
  const { format } = optionsOf<FormatOptions>(command);
  context.stdout(
    format === OutputFormat.json ? stableJson(response.data) : `${String(response.data['hash'])}\n`,
  );
  return undefined;
}

function registerVerify(audit: Command, context: CliContext, onExit: OnExit): void {
  audit
    .command('verify')
    .description("Verify an audit file's hash chain (offline; no token or salt needed)")
    .argument('<file>', 'the audit file')
    .option('--previous-hash <hex>', "the previous file's last hash, or the device genesis")
    .option('--next <file>', 'the next file after rotation: its first line must follow this file')
    .addOption(formatOption())
    .action(
      async (
        file: string,
        options: { previousHash?: string; next?: string; format: OutputFormat },
      ) => {
        onExit(await runAuditVerify(file, options, context));
      },
    );
}

/** Adds `coffer audit`. */
export function registerAuditCommands(program: Command, context: CliContext, onExit: OnExit): void {
  const audit = program.command('audit').description('Work with audit devices and their logs');
  audit
    .command('enable')
    .description('Enable an audit device, e.g. enable file --file-path /var/log/coffer/audit.log')
    .argument('<type>', 'the device type (file)')
    .option('--path <path>', 'where to mount the device (default: the type)')
    .option('--file-path <file>', 'file device: the log file')
    .option('--description <text>', 'a description')
    .option('--option <k=v>', 'a device option (repeatable)', collect)
    .action(action(context, onExit, (command) => runEnable(context, command)));
  audit
    .command('list')
    .description('List the audit devices')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const response = await withClient(context, command, (client) => client.audit.list());
        printMounts(context, optionsOf<FormatOptions>(command).format, response.data);
        return undefined;
      }),
    );
  audit
    .command('disable')
    .description('Disable an audit device')
    .argument('<path>', 'the device path')
    .action(
      action(context, onExit, async (command) => {
        const path = argsOf(command)[0] as string;
        await withClient(context, command, (client) => client.audit.disable({ path }));
        context.stdout(`Success! Disabled the audit device (if it was enabled) at: ${path}\n`);
        return undefined;
      }),
    );
  audit
    .command('hash')
    .description("HMAC a value (read from a no-echo prompt or stdin) with a device's salt")
    .argument('<path>', 'the device path')
    .addOption(formatOption())
    .action(action(context, onExit, (command) => runHash(context, command)));
  registerVerify(audit, context, onExit);
}
