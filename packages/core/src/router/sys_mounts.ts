/**
 * The `sys/mounts` and `sys/auth` endpoints: enable, list, disable and tune secrets engines and
 * auth methods (Vault's names and fields). Disabling revokes every lease under the mount's path
 * (through its backend, still mounted), then removes the mount from the table, so it stops
 * serving, then deletes its data; the data lives under the mount's random prefix, so enabling
 * the path again starts empty.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { BackendRequest, BackendResponse, Route } from './backend.ts';
import { FieldType, parseDurationSeconds, parseFields } from './fields.ts';
import {
  mountDataPrefix,
  normalizeMountPath,
  notMounted,
  type MountEntry,
  type MountTable,
} from './mount_table.ts';
import type { StorageView } from './storage_view.ts';

/** What disabling a mount needs beyond the table. */
export interface MountCleanup {
  /** Revokes every lease whose id starts with prefix; resolves with how many. */
  revokePrefix(prefix: string, nowMs: number): Promise<number>;
}

const deleteBatch = 256;

/** Deletes every key under `prefix` of root, in batches. */
async function deleteAllUnder(root: StorageView, prefix: string): Promise<void> {
  for (;;) {
    const page = await root.list(prefix, { limit: deleteBatch });
    if (page.keys.length === 0) {
      return;
    }
    await root.write({ operations: page.keys.map((key) => ({ kind: 'delete' as const, key })) });
  }
}

function describe(entry: MountEntry, table: MountTable): Record<string, unknown> {
  const info = table.infoOf(entry);
  return {
    type: entry.type,
    description: entry.description,
    accessor: entry.accessor,
    uuid: entry.uuid,
    config: {
      default_lease_ttl: info.defaultLeaseTtlSeconds,
      max_lease_ttl: info.maxLeaseTtlSeconds,
    },
    options: entry.options,
  };
}

/** What the mount endpoints work with. */
export interface MountRoutesOptions {
  /** The table (a function: the table holds these routes as a builtin, so it is made after). */
  readonly table: () => MountTable;
  readonly root: StorageView;
  readonly cleanup: MountCleanup;
  /** `sys/auth` (auth methods, under `auth/`) or `sys/mounts` (secrets engines). */
  readonly auth: boolean;
  /** Types this kind of mount may have. */
  readonly types: readonly string[];
}

/** The stored mount path a request names (`auth/` prefixed for auth methods). */
function mountPathOf(request: BackendRequest, auth: boolean): string {
  const path = normalizeMountPath(request.params['path'] ?? '');
  return auth ? `auth/${path}` : path;
}

async function listMounts(options: MountRoutesOptions): Promise<BackendResponse> {
  const { auth } = options;
  const table = options.table();
  const data: Record<string, unknown> = {};
  for (const mount of await table.mounts()) {
    if (mount.entry.path.startsWith('auth/') === auth) {
      const name = auth ? mount.entry.path.slice('auth/'.length) : mount.entry.path;
      data[name] = describe(mount.entry, table);
    }
  }
  return { data };
}

async function enableMount(
  options: MountRoutesOptions,
  request: BackendRequest,
): Promise<BackendResponse> {
  const { auth } = options;
  const path = mountPathOf(request, auth);
  const type = request.fields['type'];
  if (typeof type !== 'string' || !options.types.includes(type)) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      `Send a "type" among ${options.types.join(', ')} (the ${auth ? 'auth method' : 'secrets engine'} to enable)`,
    );
  }
  if (!auth && (path.startsWith('auth/') || path.startsWith('sys/'))) {
    throw new CoreError(
      CoreErrorCode.mountConflict,
      'Choose another path: "sys/" and "auth/" are reserved (auth methods go through sys/auth)',
    );
  }
  const config = (request.fields['config'] ?? {}) as Record<string, unknown>;
  // NB: parsed for its checks (unknown fields, types); parseTune reads the TTLs.
  parseFields(mountConfigFields, config);
  const ttls = parseTune(config);
  const description = request.fields['description'];
  await options.table().enable({
    path,
    type,
    description: typeof description === 'string' ? description : '',
    defaultLeaseTtlSeconds: ttls.defaultLeaseTtlSeconds ?? 0,
    maxLeaseTtlSeconds: ttls.maxLeaseTtlSeconds ?? 0,
    options: (request.fields['options'] ?? {}) as Record<string, string>,
  });
  return {};
}

async function disableMount(
  options: MountRoutesOptions,
  request: BackendRequest,
): Promise<BackendResponse> {
  const path = mountPathOf(request, options.auth);
  const table = options.table();
  if (!options.auth && path.startsWith('auth/')) {
    throw new CoreError(
      CoreErrorCode.mountConflict,
      `Disable auth methods through sys/auth: "${path}" is under auth/`,
    );
  }
  if (table.isBuiltin(path)) {
    throw new CoreError(
      CoreErrorCode.mountConflict,
      `Keep "${path}": it is built in and cannot be disabled`,
    );
  }
  if (!(await table.mounts()).some((m) => m.entry.path === path)) {
    throw notMounted(path);
  }
  // NB: leases first, while the backend is still mounted to revoke them; a failure leaves the
  // mount in place for a retry. Then the table, so it stops serving; then its data.
  await options.cleanup.revokePrefix(path, request.nowMs);
  const removed = await options.table().remove(path);
  await deleteAllUnder(options.root, mountDataPrefix(removed.uuid));
  return {};
}

async function readTune(
  options: MountRoutesOptions,
  request: BackendRequest,
): Promise<BackendResponse> {
  const path = mountPathOf(request, options.auth);
  const mount = (await options.table().mounts()).find((m) => m.entry.path === path);
  if (mount === undefined) {
    throw notMounted(path);
  }
  return {
    data: {
      default_lease_ttl: mount.info.defaultLeaseTtlSeconds,
      max_lease_ttl: mount.info.maxLeaseTtlSeconds,
      description: mount.entry.description,
    },
  };
}

async function writeTune(
  options: MountRoutesOptions,
  request: BackendRequest,
): Promise<BackendResponse> {
  const ttls = parseTune(request.fields);
  const description = request.fields['description'];
  await options.table().tune(mountPathOf(request, options.auth), {
    ...ttls,
    ...(typeof description === 'string' ? { description } : {}),
  });
  return {};
}

/** What `config` of a new mount may hold. */
const mountConfigFields = {
  default_lease_ttl: { type: FieldType.duration },
  max_lease_ttl: { type: FieldType.duration },
} as const;

/** The routes of `sys/mounts` (secrets engines) or `sys/auth` (auth methods). */
export function mountRoutes(options: MountRoutesOptions): readonly Route[] {
  const base = options.auth ? 'auth' : 'mounts';
  return [
    { pattern: base, operations: { read: () => listMounts(options) } },
    {
      pattern: `${base}/*path`,
      sudo: true,
      fields: {
        type: { type: FieldType.string },
        description: { type: FieldType.string },
        config: { type: FieldType.object },
        options: { type: FieldType.stringMap },
        local: { type: FieldType.bool },
        seal_wrap: { type: FieldType.bool },
      },
      operations: {
        update: (request) => enableMount(options, request),
        delete: (request) => disableMount(options, request),
      },
    },
    {
      pattern: `${base}/*path/tune`,
      sudo: true,
      fields: {
        default_lease_ttl: { type: FieldType.duration },
        max_lease_ttl: { type: FieldType.duration },
        description: { type: FieldType.string },
      },
      operations: {
        read: (request) => readTune(options, request),
        update: (request) => writeTune(options, request),
      },
    },
  ];
}

function parseTune(config: Readonly<Record<string, unknown>>): {
  defaultLeaseTtlSeconds?: number;
  maxLeaseTtlSeconds?: number;
} {
  const seconds = (name: string): number | undefined =>
    config[name] === undefined ? undefined : parseDurationSeconds(config[name], name);
  // NB: the mount table checks the TTLs against each other and the server's (#checkTtls).
  const defaultTtl = seconds('default_lease_ttl');
  const maxTtl = seconds('max_lease_ttl');
  return {
    ...(defaultTtl === undefined ? {} : { defaultLeaseTtlSeconds: defaultTtl }),
    ...(maxTtl === undefined ? {} : { maxLeaseTtlSeconds: maxTtl }),
  };
}
