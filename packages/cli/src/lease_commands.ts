/** `coffer lease lookup|renew|revoke` (Vault's names); `revoke --prefix` revokes every lease under it. */
import type { Command } from 'commander';

import type { CliContext } from './cli_context.ts';
import {
  action,
  argsOf,
  optionsOf,
  withClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { formatOption, printResponse } from './output.ts';

interface LeaseOptions extends FormatOptions {
  readonly increment?: string;
  readonly prefix?: boolean;
}

/** Adds `coffer lease`. */
export function registerLeaseCommands(program: Command, context: CliContext, onExit: OnExit): void {
  const lease = program.command('lease').description('Look up, renew and revoke leases');
  lease
    .command('lookup')
    .description('Print a lease')
    .argument('<lease_id>', 'the lease id')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const leaseId = argsOf(command)[0] as string;
        const response = await withClient(context, command, (client) =>
          client.leases.lookup({ leaseId }),
        );
        printResponse(context, optionsOf<FormatOptions>(command).format, response);
        return undefined;
      }),
    );
  lease
    .command('renew')
    .description('Renew a lease')
    .argument('<lease_id>', 'the lease id')
    .option('--increment <duration>', 'the new TTL asked for, e.g. 1h')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const leaseId = argsOf(command)[0] as string;
        const { increment, format } = optionsOf<LeaseOptions>(command);
        const request = { leaseId, ...(increment === undefined ? {} : { increment }) };
        const response = await withClient(context, command, (client) =>
          client.leases.renew(request),
        );
        printResponse(context, format, response);
        return undefined;
      }),
    );
  lease
    .command('revoke')
    .description('Revoke a lease, or with --prefix every lease under a prefix (sudo)')
    .argument('<lease_id>', 'the lease id, or the prefix with --prefix')
    .option('--prefix', 'revoke every lease whose id starts with the argument')
    .action(
      action(context, onExit, async (command) => {
        const id = argsOf(command)[0] as string;
        const { prefix } = optionsOf<LeaseOptions>(command);
        await withClient(context, command, (client) =>
          prefix === true
            ? client.leases.revokePrefix({ prefix: id })
            : client.leases.revoke({ leaseId: id }),
        );
        context.stdout(
          `Success! Revoked ${prefix === true ? 'every lease under' : 'lease'}: ${id}\n`,
        );
        return undefined;
      }),
    );
}
