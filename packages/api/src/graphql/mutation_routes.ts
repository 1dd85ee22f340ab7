/**
 * The routed fields of `Mutation`: for each, the ONE router request (operation, path pattern,
 * data with the core routes' field names, as grpc/method_table.ts sends them) and the value
 * made of the answer.
 */
import type { Operation } from '@coffer/core';

import { createdTokenOf, keyringOf, leaseRenewalOf, nodeStatusOf } from './answer_values.ts';
import {
  acknowledgement,
  fixedRoute,
  routerCall,
  type FieldRoute,
  type TypeRoutes,
} from './field_route.ts';
import {
  definedOnly,
  mapOfPairs,
  objectOf,
  pathPartArgument,
  type Fields,
} from './router_values.ts';

/**
 * A route whose path is `<base>/<argument>` (+ `/<suffix>`), answering an Acknowledgement; the
 * path parameter's name is the argument's (`:name` → `name`, `*path` → `path`).
 */
function pathRoute(
  operation: Operation,
  pattern: string,
  data: (args: Fields) => Fields = () => ({}),
): FieldRoute {
  const match = /^(.*)\/([:*])([a-z_]+)(\/[a-z-]+)?$/.exec(pattern);
  const [, base = '', kind = ':', name = '', suffix = ''] = match ?? [];
  const shape = kind === ':' ? 'segment' : 'rest';
  return {
    operation,
    path: pattern,
    toCall: ({ args }) => {
      const part = pathPartArgument(args, name, shape);
      return routerCall(operation, `${base}/${part}${suffix}`, data(args));
    },
    toValue: acknowledgement,
  };
}

function memberRoute(name: string): FieldRoute {
  const path = `sys/storage/raft/${name}`;
  return {
    operation: 'update',
    path,
    toCall: ({ args }) => routerCall('update', path, { server_id: args['serverId'] }),
    toValue: acknowledgement,
  };
}

function mountData(args: Fields): Fields {
  const input = objectOf(args['input'], 'input');
  const config = definedOnly({
    default_lease_ttl: input['defaultLeaseTtl'],
    max_lease_ttl: input['maxLeaseTtl'],
  });
  return definedOnly({
    type: input['type'],
    description: input['description'],
    config: Object.keys(config).length === 0 ? undefined : config,
    options: mapOfPairs(input['options']),
  });
}

function tuneData(args: Fields): Fields {
  const input = objectOf(args['input'], 'input');
  return definedOnly({
    default_lease_ttl: input['defaultLeaseTtl'],
    max_lease_ttl: input['maxLeaseTtl'],
    description: input['description'],
  });
}

function tokenCreateData(args: Fields): Fields {
  const input = objectOf(args['input'], 'input');
  return definedOnly({
    policies: input['policies'],
    no_default_policy: input['noDefaultPolicy'],
    renewable: input['notRenewable'] === true ? false : undefined,
    ttl: input['ttl'],
    explicit_max_ttl: input['explicitMaxTtl'],
    period: input['period'],
    num_uses: input['numUses'],
    display_name: input['displayName'],
    meta: mapOfPairs(input['metadata']),
  });
}

function tokenCreateRoute(path: string): FieldRoute {
  return {
    operation: 'update',
    path,
    toCall: ({ args }) => routerCall('update', path, tokenCreateData(args)),
    toValue: createdTokenOf,
  };
}

/** A route with fixed operation and path whose data are some arguments, renamed. */
function dataRoute(
  path: string,
  names: Readonly<Record<string, string>>,
  toValue: FieldRoute['toValue'] = acknowledgement,
): FieldRoute {
  return {
    operation: 'update',
    path,
    toCall: ({ args }) =>
      routerCall(
        'update',
        path,
        definedOnly(
          Object.fromEntries(Object.entries(names).map(([arg, field]) => [field, args[arg]])),
        ),
      ),
    toValue,
  };
}

/** The routed fields of Mutation. */
export const mutationRoutes: TypeRoutes = {
  unseal: dataRoute('sys/unseal', { key: 'key', reset: 'reset' }, nodeStatusOf),
  seal: fixedRoute('update', 'sys/seal'),
  stepDown: fixedRoute('update', 'sys/step-down'),
  promotePeer: memberRoute('promote'),
  demotePeer: memberRoute('demote'),
  removePeer: memberRoute('remove-peer'),
  writePolicy: pathRoute('update', 'sys/policies/acl/:name', (args) => ({
    policy: args['text'],
  })),
  deletePolicy: pathRoute('delete', 'sys/policies/acl/:name'),
  enableSecretsEngine: pathRoute('update', 'sys/mounts/*path', mountData),
  tuneSecretsEngine: pathRoute('update', 'sys/mounts/*path/tune', tuneData),
  disableSecretsEngine: pathRoute('delete', 'sys/mounts/*path'),
  enableAuthMethod: pathRoute('update', 'sys/auth/*path', mountData),
  tuneAuthMethod: pathRoute('update', 'sys/auth/*path/tune', tuneData),
  disableAuthMethod: pathRoute('delete', 'sys/auth/*path'),
  enableAuditDevice: pathRoute('update', 'sys/audit/:path', (args) =>
    definedOnly({
      type: args['type'],
      description: args['description'],
      options: mapOfPairs(args['options']),
    }),
  ),
  disableAuditDevice: pathRoute('delete', 'sys/audit/:path'),
  createToken: tokenCreateRoute('auth/token/create'),
  createOrphanToken: tokenCreateRoute('auth/token/create-orphan'),
  revokeToken: dataRoute('auth/token/revoke', { token: 'token' }),
  revokeTokenByAccessor: dataRoute('auth/token/revoke-accessor', { accessor: 'accessor' }),
  renewLease: dataRoute(
    'sys/leases/renew',
    { leaseId: 'lease_id', increment: 'increment' },
    leaseRenewalOf,
  ),
  revokeLease: dataRoute('sys/leases/revoke', { leaseId: 'lease_id' }),
  rotateKeyring: fixedRoute('update', 'sys/rotate', keyringOf),
};
