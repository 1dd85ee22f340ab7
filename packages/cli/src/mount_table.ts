/**
 * The table of `secrets list`, `auth list` and `audit list`: one row per path with its type and
 * description (Vault's layout). The data is the router's map of path to mount entry.
 */
import type { CliIo } from './cli_io.ts';
import { OutputFormat } from './cli_io.ts';
import { formatColumns, sortedRows, stableJson } from './output.ts';

function field(entry: unknown, name: string): string {
  const value = (entry as Record<string, unknown> | null)?.[name];
  return typeof value === 'string' ? value : '';
}

/** Prints mount entries: JSON as is (sorted), or Path / Type / Description columns. */
export function printMounts(
  io: CliIo,
  format: OutputFormat,
  data: Readonly<Record<string, unknown>>,
): void {
  if (format === OutputFormat.json) {
    io.stdout(stableJson(data));
    return;
  }
  const rows = sortedRows(data)
    .filter(([, entry]) => entry !== null && typeof entry === 'object')
    .map(([path, entry]) => [path, field(entry, 'type'), field(entry, 'description')]);
  io.stdout(formatColumns(['Path', 'Type', 'Description'], rows));
}
