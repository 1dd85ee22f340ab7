/**
 * The GraphQL values of the core router's answers: one function per answer shape, from
 * Vault's snake_case data (packages/core: lifecycle/status_data.ts, autopilot_state.ts,
 * router/sys_mounts.ts, audit/audit_backend.ts, token/token_view.ts, lease/lease_routes.ts,
 * lifecycle/operator_routes.ts) to the schema's camelCase types (schema_sdl.ts).
 */
import type { CoreSuccess } from '@coffer/core';

import { ApiError, ApiErrorCode } from '../errors.ts';
import type { MetricsSnapshot } from '../metrics/api_metrics.ts';
import {
  flagAt,
  keyValuesAt,
  numberAt,
  objectOf,
  optionalNumberAt,
  optionalTextAt,
  textAt,
  textsAt,
  type Fields,
} from './router_values.ts';

/** The data of an answer; a missing one is a malformed answer. */
export function dataOf(answer: CoreSuccess): Fields {
  return objectOf(answer.data, 'data');
}

/** `NodeStatus` from sys/seal-status, sys/health or sys/unseal. */
export function nodeStatusOf(answer: CoreSuccess): Fields {
  const data = dataOf(answer);
  return {
    initialized: flagAt(data, 'initialized'),
    sealed: flagAt(data, 'sealed'),
    standby: flagAt(data, 'standby'),
    sealType: textAt(data, 'type'),
    clusterId: optionalTextAt(data, 'cluster_id'),
    threshold: optionalNumberAt(data, 't'),
    shares: optionalNumberAt(data, 'n'),
    progress: numberAt(data, 'progress'),
    nonce: optionalTextAt(data, 'nonce'),
  };
}

function clusterMemberOf(value: unknown): Fields {
  const server = objectOf(value, 'servers');
  const status = textAt(server, 'status');
  return {
    id: textAt(server, 'id'),
    address: textAt(server, 'address'),
    apiAddress: textAt(server, 'api_address'),
    status,
    voter: status !== 'non-voter',
    lastContactMs: numberAt(server, 'last_contact_ms'),
    lastTerm: numberAt(server, 'last_term'),
    lastIndex: numberAt(server, 'last_index'),
    healthy: flagAt(server, 'healthy'),
  };
}

/** `Cluster` from sys/storage/raft/autopilot/state. */
export function clusterOf(answer: CoreSuccess): Fields {
  const data = dataOf(answer);
  return {
    leader: textAt(data, 'leader'),
    healthy: flagAt(data, 'healthy'),
    failureTolerance: numberAt(data, 'failure_tolerance'),
    members: Object.values(objectOf(data['servers'], 'servers')).map(clusterMemberOf),
  };
}

/** `[Mount]` from sys/mounts or sys/auth, sorted by path. */
export function mountsOf(answer: CoreSuccess): Fields[] {
  return Object.entries(dataOf(answer))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, value]) => {
      const mount = objectOf(value, 'mount');
      const config = objectOf(mount['config'], 'config');
      return {
        path,
        type: textAt(mount, 'type'),
        description: textAt(mount, 'description'),
        accessor: textAt(mount, 'accessor'),
        defaultLeaseTtlSeconds: numberAt(config, 'default_lease_ttl'),
        maxLeaseTtlSeconds: numberAt(config, 'max_lease_ttl'),
        options: keyValuesAt(mount, 'options'),
      };
    });
}

/** `[AuditDevice]` from sys/audit, sorted by path. */
export function auditDevicesOf(answer: CoreSuccess): Fields[] {
  return Object.entries(dataOf(answer))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, value]) => {
      const device = objectOf(value, 'device');
      return {
        path,
        type: textAt(device, 'type'),
        description: textAt(device, 'description'),
        options: keyValuesAt(device, 'options'),
      };
    });
}

/** `TokenInfo` from auth/token/lookup-accessor. */
export function tokenInfoOf(answer: CoreSuccess): Fields {
  const data = dataOf(answer);
  return {
    accessor: textAt(data, 'accessor'),
    displayName: textAt(data, 'display_name'),
    policies: textsAt(data, 'policies'),
    ttlSeconds: numberAt(data, 'ttl'),
    expireTime: optionalTextAt(data, 'expire_time'),
    issueTime: textAt(data, 'issue_time'),
    numUses: numberAt(data, 'num_uses'),
    orphan: flagAt(data, 'orphan'),
    renewable: flagAt(data, 'renewable'),
    path: textAt(data, 'path'),
    metadata: keyValuesAt(data, 'meta'),
  };
}

/** `CreatedToken` from auth/token/create: the answer's auth block. */
export function createdTokenOf(answer: CoreSuccess): Fields {
  const auth = answer.auth;
  if (auth === undefined) {
    throw new ApiError(ApiErrorCode.internal, 'Report a bug: token create answered no token');
  }
  return {
    clientToken: auth.clientToken,
    accessor: auth.accessor,
    policies: auth.policies,
    ttlSeconds: auth.leaseDurationSeconds,
    renewable: auth.renewable,
    orphan: auth.orphan,
  };
}

/** `Lease` from sys/leases/lookup. */
export function leaseOf(answer: CoreSuccess): Fields {
  const data = dataOf(answer);
  return {
    id: textAt(data, 'id'),
    issueTime: textAt(data, 'issue_time'),
    expireTime: textAt(data, 'expire_time'),
    lastRenewal: optionalTextAt(data, 'last_renewal'),
    renewable: flagAt(data, 'renewable'),
    ttlSeconds: numberAt(data, 'ttl'),
  };
}

/** `LeaseRenewal` from sys/leases/renew. */
export function leaseRenewalOf(answer: CoreSuccess): Fields {
  const data = dataOf(answer);
  return {
    leaseId: textAt(data, 'lease_id'),
    leaseDurationSeconds: numberAt(data, 'lease_duration'),
    renewable: flagAt(data, 'renewable'),
    warnings: answer.warnings ?? [],
  };
}

function keyTermOf(value: unknown): Fields {
  const term = objectOf(value, 'terms');
  return {
    term: numberAt(term, 'term'),
    installTime: textAt(term, 'install_time'),
    encryptions: numberAt(term, 'encryptions'),
  };
}

/** `KeyringStatus` from sys/key-status or sys/rotate. */
export function keyringOf(answer: CoreSuccess): Fields {
  const data = dataOf(answer);
  const terms = data['terms'];
  if (!Array.isArray(terms)) {
    throw new ApiError(ApiErrorCode.internal, 'Report a bug: the router\'s answer has no "terms"');
  }
  return {
    term: numberAt(data, 'term'),
    installTime: textAt(data, 'install_time'),
    encryptions: numberAt(data, 'encryptions'),
    generation: numberAt(data, 'generation'),
    terms: terms.map(keyTermOf),
  };
}

/** `MetricsSummary` from the node's metrics snapshot. */
export function metricsSummaryOf(snapshot: MetricsSnapshot): Fields {
  const raft = snapshot.raft;
  return {
    sealed: snapshot.sealed,
    initialized: snapshot.initialized,
    active: snapshot.active,
    raftTerm: raft?.term ?? null,
    raftCommitIndex: raft?.commitIndex ?? null,
    raftAppliedIndex: raft?.appliedIndex ?? null,
    raftLeaderId: raft?.leaderId ?? null,
    auditFailures: snapshot.auditFailures,
    leaderChanges: snapshot.leaderChanges,
    forwardedRequests: snapshot.forwardedRequests,
    standbyReads: snapshot.standbyReads,
  };
}
