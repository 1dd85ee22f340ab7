/**
 * The body of `sys/seal-status` and `sys/health` (Vault's field names): safe to show without a
 * token, and never audited. The HTTP adapter maps it to Vault's status codes (200 active,
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
  };
}
