/**
 * The `coffer` command tree (commander), with the commands and habits of PRODUCT.md ("Names
 * and habits"), following Vault's CLI where PRODUCT.md is silent. Actions set the exit code
 * through onExit so the tree runs in-process in tests and under main.ts alike.
 *
 * Global options (usable before or after any subcommand): `--address`, `--ca-cert`,
 * `--token-file` (client_settings.ts). Usage errors (unknown option or command, missing or bad
 * argument) are commander's: a clear `error: ...` line on stderr and exit code 1.
 */
import { Command } from 'commander';

import { registerAuditCommands } from './audit_commands.ts';
import type { CliContext } from './cli_context.ts';
import type { OnExit } from './command_support.ts';
import { registerDevClusterCommand } from './dev_cluster_command.ts';
import { registerGenericCommands } from './generic_commands.ts';
import { registerKvCommands } from './kv_commands.ts';
import { registerLeaseCommands } from './lease_commands.ts';
import { registerLoginCommand } from './login_command.ts';
import { registerMountCommands } from './mount_commands.ts';
import { registerGenerateRootCommand } from './operator_generate_root.ts';
import { registerOperatorCommands } from './operator_commands.ts';
import { registerRaftCommands } from './operator_raft_commands.ts';
import { registerRekeyCommand } from './operator_rekey.ts';
import { registerSealMigrateCommand } from './operator_seal_migrate.ts';
import { registerServerCommand } from './server_command.ts';
import { registerPolicyCommands } from './policy_commands.ts';
import { registerStatusCommand } from './status_command.ts';
import { registerTokenCommands } from './token_commands.ts';

/** Builds the program; onExit receives each command's exit code. */
export function createProgram(context: CliContext, onExit: OnExit): Command {
  const program = new Command('coffer')
    .description('Coffer: a Raft-replicated secrets vault')
    .configureOutput({ writeOut: context.stdout, writeErr: context.stderr })
    .exitOverride()
    .showSuggestionAfterError()
    .option('--address <url>', 'the server (env COFFER_ADDR; default https://127.0.0.1:8200)')
    .option('--ca-cert <file>', "the CA certificate (PEM) of the server's TLS (env COFFER_CACERT)")
    .option(
      '--token-file <file>',
      'read the token from this file (else env COFFER_TOKEN, else $HOME/.coffer-token)',
    );
  registerServerCommand(program, context, onExit);
  registerDevClusterCommand(program, context, onExit);
  registerStatusCommand(program, context, onExit);
  const operator = registerOperatorCommands(program, context, onExit);
  registerRekeyCommand(operator, context, onExit);
  registerSealMigrateCommand(operator, context, onExit);
  registerGenerateRootCommand(operator, context, onExit);
  registerRaftCommands(operator, context, onExit);
  registerKvCommands(program, context, onExit);
  registerPolicyCommands(program, context, onExit);
  registerTokenCommands(program, context, onExit);
  registerGenericCommands(program, context, onExit);
  registerLoginCommand(program, context, onExit);
  registerLeaseCommands(program, context, onExit);
  registerAuditCommands(program, context, onExit);
  registerMountCommands(program, context, onExit);
  return program;
}
