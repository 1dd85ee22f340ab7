/**
 * The gRPC method table: for every method of every coffer.v1 service, the ONE router request it
 * is (operation, path, data), built from the decoded request message. Paths and field names are
 * the core routes' own (packages/core: engines/kv, token/token_routes.ts, auth/approle/login.ts,
 * policy/policy_backend.ts, lease/lease_routes.ts, audit/audit_backend.ts, router/sys_mounts.ts,
 * lifecycle/lifecycle_endpoints.ts and operator_routes.ts), so a policy on a path governs gRPC
 * exactly as it governs every other API.
 *
 * Invariant: the table holds exactly the methods of the package definition, no more, no fewer
 * (method_table.test.ts); a method missing here would be served by nothing.
 * NB: the table does no authorization and no path validation: the router does both, after the
 * sealed gate. `tokenless` only documents which methods work without a token (the sweep test
 * reads it); the router, not this flag, decides.
 */
import type { Operation } from '@coffer/core';

import {
  countOf,
  flagOf,
  jsonObjectOf,
  listOf,
  mapOf,
  optionalOf,
  pathPartOf,
  textOf,
  withSet,
  type Data,
  type Message,
} from './message_fields.ts';

/** One router request, as a typed method makes it. */
export interface RouterCall {
  readonly operation: Operation;
  readonly path: string;
  readonly data?: Data;
}

/** How one gRPC method becomes a router request. */
export interface MethodEntry {
  /** Builds the request; throws ApiError COFFER_API_INVALID_REQUEST on malformed input. */
  readonly toCall: (message: Message) => RouterCall;
  /** The method answers without a token (lifecycle endpoints with shares, status, logins). */
  readonly tokenless?: boolean;
}

/** The package of the services. */
export const protoPackage = 'coffer.v1';

function call(operation: Operation, path: string, data?: Data): RouterCall {
  return data === undefined || Object.keys(data).length === 0
    ? { operation, path }
    : { operation, path, data };
}

const fixed = (operation: Operation, path: string, tokenless = false): MethodEntry =>
  tokenless
    ? { toCall: () => call(operation, path), tokenless }
    : { toCall: () => call(operation, path) };

const shareData = (m: Message): Data =>
  withSet({}, { key: textOf(m, 'key'), nonce: textOf(m, 'nonce') });

const systemMethods: Readonly<Record<string, MethodEntry>> = {
  Init: {
    tokenless: true,
    toCall: (m) =>
      call(
        'update',
        'sys/init',
        withSet(
          { generate_hsm_key: flagOf(m, 'generate_hsm_key') },
          {
            secret_shares: countOf(m, 'secret_shares'),
            secret_threshold: countOf(m, 'secret_threshold'),
            break_glass_shares: countOf(m, 'break_glass_shares'),
            break_glass_threshold: countOf(m, 'break_glass_threshold'),
          },
        ),
      ),
  },
  Unseal: {
    tokenless: true,
    toCall: (m) =>
      call(
        'update',
        'sys/unseal',
        withSet(
          {
            reset: flagOf(m, 'reset'),
            break_glass: flagOf(m, 'break_glass'),
            migrate: flagOf(m, 'migrate'),
          },
          { key: textOf(m, 'key') },
        ),
      ),
  },
  SealStatus: fixed('read', 'sys/seal-status', true),
  Health: fixed('read', 'sys/health', true),
  Seal: fixed('update', 'sys/seal'),
  StepDown: fixed('update', 'sys/step-down'),
  RekeyInit: {
    tokenless: true,
    toCall: (m) =>
      call(
        'update',
        'sys/rekey/init',
        withSet(
          {},
          {
            secret_shares: countOf(m, 'secret_shares'),
            secret_threshold: countOf(m, 'secret_threshold'),
          },
        ),
      ),
  },
  RekeyUpdate: { tokenless: true, toCall: (m) => call('update', 'sys/rekey/update', shareData(m)) },
  RekeyStatus: fixed('read', 'sys/rekey/init', true),
  RekeyCancel: fixed('delete', 'sys/rekey/init', true),
  Rotate: fixed('update', 'sys/rotate'),
  KeyStatus: fixed('read', 'sys/key-status'),
  GenerateRootInit: {
    tokenless: true,
    toCall: (m) =>
      call('update', 'sys/generate-root/attempt', withSet({}, { otp: textOf(m, 'otp') })),
  },
  GenerateRootUpdate: {
    tokenless: true,
    toCall: (m) => call('update', 'sys/generate-root/update', shareData(m)),
  },
  GenerateRootStatus: fixed('read', 'sys/generate-root/attempt', true),
  GenerateRootCancel: fixed('delete', 'sys/generate-root/attempt', true),
};

function tokenCreateData(m: Message): Data {
  return withSet(
    {
      no_default_policy: flagOf(m, 'no_default_policy'),
      renewable: !flagOf(m, 'not_renewable'),
    },
    {
      policies: listOf(m, 'policies'),
      ttl: textOf(m, 'ttl'),
      explicit_max_ttl: textOf(m, 'explicit_max_ttl'),
      period: textOf(m, 'period'),
      num_uses: countOf(m, 'num_uses'),
      display_name: textOf(m, 'display_name'),
      meta: mapOf(m, 'metadata'),
    },
  );
}

/** A method on a token or the caller's own: `<verb>` with {token}, else `<verb>-self`. */
function tokenTarget(verb: string, extra: (m: Message) => Data = () => ({})): MethodEntry {
  return {
    toCall: (m) => {
      const token = textOf(m, 'token');
      if (token === '') {
        const operation = verb === 'lookup' ? 'read' : 'update';
        return call(operation, `auth/token/${verb}-self`, extra(m));
      }
      return call('update', `auth/token/${verb}`, { token, ...extra(m) });
    },
  };
}

const authMethods: Readonly<Record<string, MethodEntry>> = {
  AppRoleLogin: {
    tokenless: true,
    toCall: (m) => {
      const mount = pathPartOf(m, 'mount') || 'approle';
      const data = withSet(
        { role_id: textOf(m, 'role_id') },
        { secret_id: textOf(m, 'secret_id') },
      );
      return call('update', `auth/${mount}/login`, data);
    },
  },
  TokenCreate: {
    toCall: (m) =>
      call(
        'update',
        flagOf(m, 'no_parent') ? 'auth/token/create-orphan' : 'auth/token/create',
        tokenCreateData(m),
      ),
  },
  TokenLookup: tokenTarget('lookup'),
  TokenRenew: tokenTarget('renew', (m) => withSet({}, { increment: textOf(m, 'increment') })),
  TokenRevoke: tokenTarget('revoke'),
  TokenRevokeAccessor: {
    toCall: (m) =>
      call('update', 'auth/token/revoke-accessor', { accessor: textOf(m, 'accessor') }),
  },
};

/** `<mount>/<area>/<path>` of the KV v2 engine; the mount defaults to "secret". */
function kvPath(m: Message, area: string): string {
  const mount = pathPartOf(m, 'mount') || 'secret';
  return `${mount}/${area}/${pathPartOf(m, 'path')}`;
}

function kvWrite(operation: Operation): MethodEntry {
  return {
    toCall: (m) => {
      const cas = optionalOf(m, 'cas');
      const data: Data = { data: jsonObjectOf(m, 'data_json') ?? {} };
      if (cas !== undefined) {
        data['options'] = { cas };
      }
      return call(operation, kvPath(m, 'data'), data);
    },
  };
}

function kvVersions(area: string): MethodEntry {
  return {
    toCall: (m) =>
      call('update', kvPath(m, area), withSet({}, { versions: listOf(m, 'versions') })),
  };
}

const kvMethods: Readonly<Record<string, MethodEntry>> = {
  Get: {
    toCall: (m) => call('read', kvPath(m, 'data'), withSet({}, { version: countOf(m, 'version') })),
  },
  Put: kvWrite('update'),
  Patch: kvWrite('patch'),
  Delete: {
    toCall: (m) => {
      const versions = listOf(m, 'versions');
      return versions.length === 0
        ? call('delete', kvPath(m, 'data'))
        : call('update', kvPath(m, 'delete'), { versions });
    },
  },
  Undelete: kvVersions('undelete'),
  Destroy: kvVersions('destroy'),
  List: { toCall: (m) => call('list', kvPath(m, 'metadata')) },
  ReadMetadata: { toCall: (m) => call('read', kvPath(m, 'metadata')) },
  WriteMetadata: {
    toCall: (m) =>
      call(
        'update',
        kvPath(m, 'metadata'),
        withSet(
          {},
          {
            max_versions: optionalOf(m, 'max_versions'),
            cas_required: optionalOf(m, 'cas_required'),
            delete_version_after: optionalOf(m, 'delete_version_after'),
            custom_metadata: mapOf(m, 'custom_metadata'),
          },
        ),
      ),
  },
  DeleteMetadata: { toCall: (m) => call('delete', kvPath(m, 'metadata')) },
};

const policyPath = (m: Message): string => `sys/policies/acl/${pathPartOf(m, 'name')}`;

const policyMethods: Readonly<Record<string, MethodEntry>> = {
  Write: { toCall: (m) => call('update', policyPath(m), { policy: textOf(m, 'policy') }) },
  Read: { toCall: (m) => call('read', policyPath(m)) },
  List: fixed('list', 'sys/policies/acl'),
  Delete: { toCall: (m) => call('delete', policyPath(m)) },
};

const leaseId = (m: Message): Data => ({ lease_id: textOf(m, 'lease_id') });

const leaseMethods: Readonly<Record<string, MethodEntry>> = {
  Lookup: { toCall: (m) => call('update', 'sys/leases/lookup', leaseId(m)) },
  Renew: {
    toCall: (m) =>
      call(
        'update',
        'sys/leases/renew',
        withSet(leaseId(m), { increment: textOf(m, 'increment') }),
      ),
  },
  Revoke: { toCall: (m) => call('update', 'sys/leases/revoke', leaseId(m)) },
  RevokePrefix: {
    toCall: (m) => call('update', `sys/leases/revoke-prefix/${pathPartOf(m, 'prefix')}`),
  },
};

const auditMethods: Readonly<Record<string, MethodEntry>> = {
  Enable: {
    toCall: (m) =>
      call(
        'update',
        `sys/audit/${pathPartOf(m, 'path')}`,
        withSet(
          { type: textOf(m, 'type') },
          { description: textOf(m, 'description'), options: mapOf(m, 'options') },
        ),
      ),
  },
  Disable: { toCall: (m) => call('delete', `sys/audit/${pathPartOf(m, 'path')}`) },
  List: fixed('read', 'sys/audit'),
  Hash: {
    toCall: (m) =>
      call('update', `sys/audit-hash/${pathPartOf(m, 'path')}`, { input: textOf(m, 'input') }),
  },
};

function mountEnable(base: string): MethodEntry {
  return {
    toCall: (m) =>
      call(
        'update',
        `${base}/${pathPartOf(m, 'path')}`,
        withSet(
          { type: textOf(m, 'type') },
          {
            description: textOf(m, 'description'),
            config: withSet(
              {},
              {
                default_lease_ttl: textOf(m, 'default_lease_ttl'),
                max_lease_ttl: textOf(m, 'max_lease_ttl'),
              },
            ),
            options: mapOf(m, 'options'),
          },
        ),
      ),
  };
}

const mountPath = (base: string) => (m: Message) => `${base}/${pathPartOf(m, 'path')}`;

const mountMethods: Readonly<Record<string, MethodEntry>> = {
  EnableSecrets: mountEnable('sys/mounts'),
  DisableSecrets: { toCall: (m) => call('delete', mountPath('sys/mounts')(m)) },
  ListSecrets: fixed('read', 'sys/mounts'),
  Tune: {
    toCall: (m) =>
      call(
        'update',
        `${mountPath('sys/mounts')(m)}/tune`,
        withSet(
          {},
          {
            default_lease_ttl: textOf(m, 'default_lease_ttl'),
            max_lease_ttl: textOf(m, 'max_lease_ttl'),
            description: textOf(m, 'description'),
          },
        ),
      ),
  },
  ReadTune: { toCall: (m) => call('read', `${mountPath('sys/mounts')(m)}/tune`) },
  EnableAuth: mountEnable('sys/auth'),
  DisableAuth: { toCall: (m) => call('delete', mountPath('sys/auth')(m)) },
  ListAuth: fixed('read', 'sys/auth'),
};

function logical(operation: Operation): MethodEntry {
  return {
    toCall: (m) => call(operation, pathPartOf(m, 'path'), jsonObjectOf(m, 'data_json')),
  };
}

const logicalMethods: Readonly<Record<string, MethodEntry>> = {
  Read: logical('read'),
  Write: logical('update'),
  List: logical('list'),
  Delete: logical('delete'),
  Patch: logical('patch'),
};

/** Every service of coffer.v1 and its methods, by the names in the .proto files. */
export const methodTable: Readonly<Record<string, Readonly<Record<string, MethodEntry>>>> = {
  System: systemMethods,
  Auth: authMethods,
  Kv: kvMethods,
  Policies: policyMethods,
  Leases: leaseMethods,
  Audit: auditMethods,
  Mounts: mountMethods,
  Logical: logicalMethods,
};

/** The table's entry for a full method name (`/coffer.v1.Kv/Get`), or undefined. */
export function findMethod(fullName: string): MethodEntry | undefined {
  const match = /^\/coffer\.v1\.([A-Za-z]+)\/([A-Za-z]+)$/.exec(fullName);
  if (match === null) {
    return undefined;
  }
  const [, service = '', method = ''] = match;
  return Object.hasOwn(methodTable, service) && Object.hasOwn(methodTable[service] ?? {}, method)
    ? methodTable[service]?.[method]
    : undefined;
}
