/**
 * The body of `sys/seal-status` and `sys/health` (Vault's field names, plus the stored seal
 * type and the node's seal migration state): safe to show without a token, and never audited. The HTTP adapter maps it to Vault's status codes (200 active,
 * 429 standby, 501 uninitialized, 503 sealed).
 */
import type { NodeStatus } from './node_status.ts';

/** The public status fields of a node. */
export function statusData(status: NodeStatus, active: boolean): Record<string, unknown> {
  return {
    initialized: status.initialized,
    sealed: status.sealed,
    standby: !status.sealed && status.initialized && !active,
    type: status.sealType,
    cluster_id: status.clusterId ?? null,
    t: status.unseal?.threshold ?? null,
    n: status.unseal?.shares ?? null,
    progress: status.unseal?.progress ?? 0,
    nonce: status.unseal?.nonce ?? null,
    stored_type: storedType(status),
    seal_migration: sealMigrationState(status),
    auto_unseal_failure: status.autoUnsealFailure ?? null,
  };
}

/** The seal type of this node's copy of the seal record; null before init reached it. */
function storedType(status: NodeStatus): string | null {
  return status.clusterId === undefined ? null : (status.storedSealType ?? status.sealType);
}

/**
 * Where this node is in a seal migration (docs/design/seal.md): `running` while an attempt
 * collects shares here (the active node); `config_differs` when its configured seal is not
 * the one its records hold (restart it with the stored seal's config once the migration
 * committed, or, when its records are the older ones, let it catch up first); else `none`.
 */
function sealMigrationState(status: NodeStatus): 'none' | 'running' | 'config_differs' {
  if (status.sealMigrationRunning) {
    return 'running';
  }
  return status.storedSealType === undefined ? 'none' : 'config_differs';
}
