/**
 * The `coffer` command tree (commander). Only `coffer audit verify` exists so far; the Vault-like
 * commands of PRODUCT.md join it as issues add them. Actions set the exit code through onExit so
 * the tree can run in-process in tests and under main.ts alike.
 */
import { Command, Option } from 'commander';

import { runAuditVerify } from './audit_verify_command.ts';
import { OutputFormat, type CliIo } from './cli_io.ts';

/** Builds the program; onExit receives each command's exit code. */
export function createProgram(io: CliIo, onExit: (code: number) => void): Command {
  const program = new Command('coffer')
    .description('Coffer: a Raft-replicated secrets vault')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  const audit = program.command('audit').description('Work with audit devices and their logs');
  audit
    .command('verify')
    .description("Verify an audit file's hash chain (offline; no token or salt needed)")
    .argument('<file>', 'the audit file')
    .option('--previous-hash <hex>', "the previous file's last hash, or the device genesis")
    .option('--next <file>', 'the next file after rotation: its first line must follow this file')
    .addOption(
      new Option('--format <format>', 'output format')
        .choices([OutputFormat.table, OutputFormat.json])
        .default(OutputFormat.table),
    )
    .action(
      async (
        file: string,
        options: { previousHash?: string; next?: string; format: OutputFormat },
      ) => {
        onExit(await runAuditVerify(file, options, io));
      },
    );
  return program;
}
