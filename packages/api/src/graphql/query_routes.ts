/**
 * The routed fields of `Query` and of the nested types that read on their own (`LeaseKey.lease`):
 * for each, the ONE router request (operation, path pattern, data) and the value made of the
 * answer. Paths are the core routes' own, as in the gRPC method table (grpc/method_table.ts).
 */
import { ApiError, ApiErrorCode } from '../errors.ts';
import {
  auditDevicesOf,
  clusterOf,
  dataOf,
  keyringOf,
  leaseOf,
  metricsSummaryOf,
  mountsOf,
  nodeStatusOf,
  tokenInfoOf,
} from './answer_values.ts';
import { fixedRoute, routerCall, type FieldRoute, type TypeRoutes } from './field_route.ts';
import { objectOf, pathPartArgument, textAt, textsAt } from './router_values.ts';

const policyRoute: FieldRoute = {
  operation: 'read',
  path: 'sys/policies/acl/:name',
  toCall: ({ args }) =>
    routerCall('read', `sys/policies/acl/${pathPartArgument(args, 'name', 'segment')}`),
  toValue: (answer) => {
    const data = dataOf(answer);
    return { name: textAt(data, 'name'), text: textAt(data, 'policy') };
  },
};

const tokenByAccessorRoute: FieldRoute = {
  operation: 'update',
  path: 'auth/token/lookup-accessor',
  toCall: ({ args }) =>
    routerCall('update', 'auth/token/lookup-accessor', {
      accessor: pathPartArgument(args, 'accessor', 'segment'),
    }),
  toValue: tokenInfoOf,
};

/** The prefix as the router lists it: with one trailing slash. */
function leasePrefixOf(args: Readonly<Record<string, unknown>>): string {
  const prefix = pathPartArgument(args, 'prefix', 'rest');
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

const leasesRoute: FieldRoute = {
  operation: 'list',
  path: 'sys/leases/lookup/*prefix',
  toCall: ({ args }) => routerCall('list', `sys/leases/lookup/${leasePrefixOf(args)}`),
  toValue: (answer, { args }) => {
    const prefix = leasePrefixOf(args);
    const keys = textsAt(dataOf(answer), 'keys').map((key) => ({
      key,
      leaseId: key.endsWith('/') ? null : `${prefix}${key}`,
    }));
    return { keys, truncated: (answer.warnings ?? []).length > 0 };
  },
};

/** `LeaseKey.lease`: one lookup of the key's lease; null without a request for a prefix. */
const leaseKeyLeaseRoute: FieldRoute = {
  operation: 'update',
  path: 'sys/leases/lookup',
  toCall: ({ parent }) => {
    const leaseId = objectOf(parent, 'LeaseKey')['leaseId'];
    return typeof leaseId === 'string'
      ? routerCall('update', 'sys/leases/lookup', { lease_id: leaseId })
      : undefined;
  },
  toValue: leaseOf,
};

const metricsRoute: FieldRoute = {
  operation: 'read',
  path: 'sys/metrics',
  toCall: () => routerCall('read', 'sys/metrics'),
  toValue: (_answer, { metricsSnapshot }) => {
    if (metricsSnapshot === undefined) {
      throw new ApiError(
        ApiErrorCode.metricsUnavailable,
        'Read the metrics on /v1/sys/metrics: this listener has no metrics source',
      );
    }
    return metricsSummaryOf(metricsSnapshot());
  },
};

/** The routed fields of Query. */
export const queryRoutes: TypeRoutes = {
  sealStatus: fixedRoute('read', 'sys/seal-status', nodeStatusOf),
  health: fixedRoute('read', 'sys/health', nodeStatusOf),
  cluster: fixedRoute('read', 'sys/storage/raft/autopilot/state', clusterOf),
  secretsEngines: fixedRoute('read', 'sys/mounts', mountsOf),
  authMethods: fixedRoute('read', 'sys/auth', mountsOf),
  policies: fixedRoute('list', 'sys/policies/acl', (answer) => textsAt(dataOf(answer), 'keys')),
  policy: policyRoute,
  tokenByAccessor: tokenByAccessorRoute,
  leases: leasesRoute,
  auditDevices: fixedRoute('read', 'sys/audit', auditDevicesOf),
  keyring: fixedRoute('read', 'sys/key-status', keyringOf),
  metrics: metricsRoute,
};

/** The routed fields of LeaseKey. */
export const leaseKeyRoutes: TypeRoutes = { lease: leaseKeyLeaseRoute };
