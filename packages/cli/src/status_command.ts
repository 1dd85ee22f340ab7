/**
 * `coffer status`: the node's seal status (read sys/seal-status; no token needed). Exit 0 when
 * unsealed, 2 when sealed (or not initialized), 1 on error: Vault's convention, so scripts can
 * branch on it (PRODUCT.md).
 */
import type { Command } from 'commander';

import type { CliContext } from './cli_context.ts';
import { OutputFormat } from './cli_io.ts';
import {
  action,
  optionsOf,
  reportError,
  withAnonymousClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { formatCell, formatOption, formatTable, stableJson } from './output.ts';

/** Exit codes of `coffer status`. */
export const StatusExit = { unsealed: 0, error: 1, sealed: 2 } as const;

/**
 * The stored seal type and the migration state, when the node's seal config and its seal
 * records differ or a migration runs here (docs/design/seal.md, "Seal migration in a cluster").
 */
function storedSealRows(data: Readonly<Record<string, unknown>>): [string, unknown][] {
  const state = data['seal_migration'];
  if (state === undefined || state === 'none') {
    return [];
  }
  return [
    ['Stored Seal Type', data['stored_type']],
    ['Seal Migration', state],
    ...(data['auto_unseal_failure'] === null || data['auto_unseal_failure'] === undefined
      ? []
      : ([['Auto-unseal Failure', data['auto_unseal_failure']]] as [string, unknown][])),
  ];
}

/** The rows of `coffer status` (Vault's labels) for seal-status data. */
export function statusRows(data: Readonly<Record<string, unknown>>): [string, unknown][] {
  const sealed = data['sealed'] === true;
  const rows: [string, unknown][] = [
    ['Seal Type', data['type']],
    ...storedSealRows(data),
    ['Initialized', data['initialized']],
    ['Sealed', data['sealed']],
    ['Total Shares', data['n']],
    ['Threshold', data['t']],
  ];
  if (sealed) {
    rows.push([
      'Unseal Progress',
      `${formatCell(data['progress'] ?? 0)}/${formatCell(data['t'] ?? '?')}`,
    ]);
    rows.push(['Unseal Nonce', data['nonce']]);
  }
  rows.push(['Cluster ID', data['cluster_id']]);
  if (!sealed && typeof data['standby'] === 'boolean') {
    rows.push(['HA Mode', data['standby'] ? 'standby' : 'active']);
  }
  return rows;
}

async function runStatus(context: CliContext, command: Command): Promise<number> {
  const { format } = optionsOf<FormatOptions>(command);
  try {
    const response = await withAnonymousClient(context, command, (client) =>
      client.sys.sealStatus(),
    );
    const data = response.data;
    context.stdout(
      format === OutputFormat.json
        ? stableJson(data)
        : formatTable(['Key', 'Value'], statusRows(data)),
    );
    return data['sealed'] === false ? StatusExit.unsealed : StatusExit.sealed;
  } catch (error) {
    reportError(context, error);
    return StatusExit.error;
  }
}

/** Adds `coffer status`. */
export function registerStatusCommand(program: Command, context: CliContext, onExit: OnExit): void {
  program
    .command('status')
    .description('Print the seal status of the node (exit 0 unsealed, 2 sealed, 1 error)')
    .addOption(formatOption())
    .action(action(context, onExit, (command) => runStatus(context, command)));
}
