/**
 * How commands print. `--format json` is for machines and stable: object keys sorted at every
 * depth, two-space indent, one trailing newline; the keys of each command are listed in the
 * README. `--format table` (the default) is for humans: Vault's `Key  Value` columns.
 */
import { Option } from 'commander';

import type { ClientAuth, CofferResponse } from '@coffer/client';

import type { CliIo } from './cli_io.ts';
import { OutputFormat } from './cli_io.ts';

/** The `--format json|table` option of every data-printing command. */
export function formatOption(): Option {
  return new Option('--format <format>', 'output format')
    .choices([OutputFormat.table, OutputFormat.json])
    .default(OutputFormat.table);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(sortKeys);
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([key, item]) => [key, sortKeys(item)]));
  }
  return value;
}

/** JSON with sorted keys, indented, newline-terminated. */
export function stableJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

/** Vault's names for a token; `client_token` only when `withToken`. */
export function authJson(auth: ClientAuth, withToken: boolean): Record<string, unknown> {
  return {
    ...(withToken ? { client_token: auth.clientToken } : {}),
    accessor: auth.accessor,
    policies: auth.policies,
    token_policies: auth.tokenPolicies,
    metadata: auth.metadata,
    lease_duration: auth.leaseDurationSeconds,
    renewable: auth.renewable,
    orphan: auth.orphan,
    token_type: auth.tokenType,
    num_uses: auth.numUses,
  };
}

/**
 * A whole response as Vault's `-format=json` prints a secret: request_id, lease_id,
 * lease_duration, renewable, data, warnings, auth, wrap_info (null when absent).
 */
export function responseJson(
  response: CofferResponse,
  options: { readonly withToken?: boolean } = {},
): Record<string, unknown> {
  const wrap = response.wrapInfo;
  return {
    request_id: response.requestId,
    lease_id: response.lease?.leaseId ?? '',
    lease_duration: response.lease?.ttlSeconds ?? 0,
    renewable: response.lease?.renewable ?? false,
    data: response.data,
    warnings: response.warnings,
    auth: response.auth === undefined ? null : authJson(response.auth, options.withToken ?? true),
    wrap_info:
      wrap === undefined
        ? null
        : {
            token: wrap.token,
            accessor: wrap.accessor,
            ttl: wrap.ttlSeconds,
            creation_time: wrap.creationTime,
            creation_path: wrap.creationPath,
          },
    ...(response.staleRead === undefined
      ? {}
      : { stale_read: { applied_index: response.staleRead.appliedIndex } }),
  };
}

/** One table cell: strings as they are, lists as `[a b]`, objects as compact JSON. */
export function formatCell(value: unknown): string {
  if (value === null || value === undefined) {
    return 'n/a';
  }
  if (typeof value === 'string') {
    return value;
  }
  if (Array.isArray(value) && value.every((item) => typeof item !== 'object')) {
    return `[${value.map(String).join(' ')}]`;
  }
  if (typeof value === 'object') {
    return JSON.stringify(sortKeys(value));
  }
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'
    ? String(value)
    : '';
}

/** A table with a header and a rule under it, columns padded, Vault style. */
export function formatColumns(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('    ')
      .trimEnd();
  const lines = [
    line(header),
    line(header.map((title) => '-'.repeat(title.length))),
    ...rows.map(line),
  ];
  return `${lines.join('\n')}\n`;
}

/** A Key/Value table. */
export function formatTable(
  header: readonly [string, string],
  rows: readonly (readonly [string, unknown])[],
): string {
  return formatColumns(
    header,
    rows.map(([key, value]) => [key, formatCell(value)]),
  );
}

/** The rows of an object, keys sorted. */
export function sortedRows(data: Readonly<Record<string, unknown>>): [string, unknown][] {
  return Object.entries(data)
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Prints an object: JSON as is (sorted), or a Key/Value table. */
export function printData(
  io: CliIo,
  format: OutputFormat,
  data: Readonly<Record<string, unknown>>,
): void {
  io.stdout(
    format === OutputFormat.json
      ? stableJson(data)
      : formatTable(['Key', 'Value'], sortedRows(data)),
  );
}

/** The lease rows of a response (Vault's labels); none without a lease. */
export function leaseRows(response: CofferResponse): [string, unknown][] {
  const lease = response.lease;
  return lease === undefined || lease.leaseId === ''
    ? []
    : [
        ['lease_id', lease.leaseId],
        ['lease_duration', `${lease.ttlSeconds}s`],
        ['lease_renewable', lease.renewable],
      ];
}

/** Prints a whole response: JSON in Vault's shape, or the data (and lease) as a table. */
export function printResponse(io: CliIo, format: OutputFormat, response: CofferResponse): void {
  if (format === OutputFormat.json) {
    io.stdout(stableJson(responseJson(response)));
    return;
  }
  printWarnings(io, response);
  const rows = [...leaseRows(response), ...sortedRows(response.data)];
  io.stdout(
    rows.length === 0
      ? 'Success! Data written or nothing to show.\n'
      : formatTable(['Key', 'Value'], rows),
  );
}

/** The response without the data field `id` (a token's id: lookups never print it). */
export function withoutId(response: CofferResponse): CofferResponse {
  return {
    ...response,
    data: Object.fromEntries(Object.entries(response.data).filter(([key]) => key !== 'id')),
  };
}

/** Vault prints a response's warnings before its table, on stderr. */
export function printWarnings(io: CliIo, response: CofferResponse): void {
  for (const warning of response.warnings) {
    io.stderr(`WARNING! ${warning}\n`);
  }
}

/** Prints a list: a JSON array of the keys, or a `Keys` column. */
export function printList(io: CliIo, format: OutputFormat, keys: readonly string[]): void {
  if (format === OutputFormat.json) {
    io.stdout(stableJson([...keys]));
  } else {
    io.stdout(['Keys', '----', ...keys].map((line) => `${line}\n`).join(''));
  }
}

/** The `keys` of a list response (strings only); an empty list when there are none. */
export function listKeys(response: CofferResponse): string[] {
  const keys = response.data['keys'];
  return Array.isArray(keys) ? keys.filter((key): key is string => typeof key === 'string') : [];
}
