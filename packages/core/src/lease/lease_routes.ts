/**
 * The `sys/leases/*` routes (Vault's sys/leases API), served by the expiration manager and
 * mounted in the `sys/` backend: lookup, list by prefix, renew, revoke, revoke-prefix,
 * revoke-force, tidy, and the list of irrevocable leases. Vault's older `sys/renew` and
 * `sys/revoke` are accepted too.
 *
 * NB: a renewal answers the new lease in `data` (`lease_id`, `lease_duration`, `renewable`):
 * BackendResponse has no slot for a lease other than a new secret's.
 * Invariant: no route returns a lease's `internal` data.
 */
import type { Backend, BackendRequest, BackendResponse, Route } from '../router/backend.ts';
import { FieldType } from '../router/fields.ts';
import type { LeaseInfo } from '../router/request.ts';
import type { LeaseTidyReport } from './lease_tidy.ts';
import type { IrrevocableLease, LeaseView } from './lease_views.ts';
import { checkLeaseIdInput } from './stored_lease.ts';

/** What the routes need of the expiration manager. */
export interface LeaseRouteManager {
  lookup(leaseId: string, nowMs: number): Promise<LeaseView>;
  renew(
    leaseId: string,
    input: { incrementSeconds: number; nowMs: number },
  ): Promise<{ lease: LeaseInfo; warnings: string[] }>;
  revoke(leaseId: string): Promise<void>;
  listPrefix(prefix: string): Promise<{ keys: string[]; truncated: boolean }>;
  revokePrefix(prefix: string, nowMs: number): Promise<number>;
  revokeForce(prefix: string): Promise<number>;
  tidy(nowMs: number): Promise<LeaseTidyReport>;
  irrevocable(options: {
    after?: string;
    limit?: number;
  }): Promise<{ leases: IrrevocableLease[]; cursor: string | undefined }>;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

async function lookup(
  manager: LeaseRouteManager,
  request: BackendRequest,
): Promise<BackendResponse> {
  const view = await manager.lookup(checkLeaseIdInput(request.fields['lease_id']), request.nowMs);
  return {
    data: {
      id: view.leaseId,
      issue_time: iso(view.issuedMs),
      expire_time: iso(view.expireMs),
      last_renewal: view.lastRenewedMs === undefined ? null : iso(view.lastRenewedMs),
      renewable: view.renewable,
      ttl: view.ttlSeconds,
    },
  };
}

async function renew(
  manager: LeaseRouteManager,
  request: BackendRequest,
): Promise<BackendResponse> {
  const leaseId = checkLeaseIdInput(request.fields['lease_id']);
  const increment = request.fields['increment'];
  const { lease, warnings } = await manager.renew(leaseId, {
    incrementSeconds: typeof increment === 'number' ? increment : 0,
    nowMs: request.nowMs,
  });
  return {
    data: { lease_id: lease.leaseId, lease_duration: lease.ttlSeconds, renewable: lease.renewable },
    ...(warnings.length === 0 ? {} : { warnings }),
  };
}

async function revoke(
  manager: LeaseRouteManager,
  request: BackendRequest,
): Promise<BackendResponse> {
  await manager.revoke(checkLeaseIdInput(request.fields['lease_id']));
  return {};
}

function prefixOf(request: BackendRequest): string {
  return checkLeaseIdInput(request.params['prefix'], 'prefix');
}

const leaseIdField = { lease_id: { type: FieldType.string, required: true } } as const;

/** `sys/leases/tidy`: repairs the expiry index and answers what it found, in snake_case. */
function tidyRoute(manager: LeaseRouteManager): Route {
  return {
    pattern: 'leases/tidy',
    sudo: true,
    operations: {
      update: async (r) => {
        const report = await manager.tidy(r.nowMs);
        return {
          data: {
            stale_index_keys: report.staleIndexKeys,
            restored_index_keys: report.restoredIndexKeys,
            orphaned_leases: report.orphanedLeases,
          },
        };
      },
    },
  };
}

/** `sys/leases/irrevocable` (READ, sudo): a page of the leases no longer retried. */
function irrevocableRoute(manager: LeaseRouteManager): Route {
  return {
    pattern: 'leases/irrevocable',
    sudo: true,
    fields: { after: { type: FieldType.string }, limit: { type: FieldType.int, default: 100 } },
    operations: {
      read: async (r) => {
        const after = r.fields['after'];
        const limit = r.fields['limit'];
        const page = await manager.irrevocable({
          ...(typeof after === 'string' ? { after } : {}),
          limit: typeof limit === 'number' && limit > 0 ? limit : 100,
        });
        return {
          data: {
            leases: page.leases.map((l) => ({
              lease_id: l.leaseId,
              mount_path: l.mountPath ?? null,
              since: iso(l.sinceMs),
              failures: l.failures,
              error_code: l.code,
            })),
            cursor: page.cursor ?? null,
          },
        };
      },
    },
  };
}

/** The lease routes of a manager. */
export function leaseBackend(manager: LeaseRouteManager): Backend {
  const renewRoute = (pattern: string): Route => ({
    pattern,
    fields: { ...leaseIdField, increment: { type: FieldType.duration, default: 0 } },
    operations: { update: (r) => renew(manager, r) },
  });
  const revokeRoute = (pattern: string): Route => ({
    pattern,
    fields: { ...leaseIdField, sync: { type: FieldType.bool, default: true } },
    operations: { update: (r) => revoke(manager, r) },
  });
  const routes: Route[] = [
    {
      pattern: 'leases/lookup',
      fields: leaseIdField,
      operations: { update: (r) => lookup(manager, r) },
    },
    {
      pattern: 'leases/lookup/*prefix',
      sudo: true,
      operations: {
        list: async (r) => {
          const { keys, truncated } = await manager.listPrefix(prefixOf(r));
          return {
            data: { keys },
            ...(truncated ? { warnings: ['The list is truncated: list a longer prefix'] } : {}),
          };
        },
      },
    },
    renewRoute('leases/renew'),
    renewRoute('renew'),
    revokeRoute('leases/revoke'),
    revokeRoute('revoke'),
    {
      pattern: 'leases/revoke-prefix/*prefix',
      sudo: true,
      fields: { sync: { type: FieldType.bool, default: true } },
      operations: {
        update: async (r) => ({
          data: { revoked: await manager.revokePrefix(prefixOf(r), r.nowMs) },
        }),
      },
    },
    {
      pattern: 'leases/revoke-force/*prefix',
      sudo: true,
      operations: {
        update: async (r) => ({ data: { revoked: await manager.revokeForce(prefixOf(r)) } }),
      },
    },
    tidyRoute(manager),
    irrevocableRoute(manager),
  ];
  return { routes };
}
