/**
 * The cluster CA: made at init, kept only as barrier ciphertext in the replicated state, so a
 * sealed node cannot issue and storage never sees the key. The record lists the CAs the cluster
 * trusts, newest last; the newest issues (two during a rotation, docs/design/cluster.md §1).
 *
 * NB: every unsealed member holds the barrier and so can read this key, as every member can
 * read every secret: the CA adds no new exposure, and a node renews its own certificate from
 * its replica without a round trip (Vault keeps its cluster key in the barrier the same way).
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { SecureStore } from '../replicated/secure_store.ts';
import { createCertificateAuthority, type TlsMaterial } from './certificates.ts';

/** Where the record lives in the replicated state. */
export const clusterAuthorityPath = 'core/cluster/authority';

/** The CAs of one cluster. */
export interface ClusterAuthority {
  readonly clusterId: string;
  /** Newest last; the last one issues. Each with its key (secret). */
  readonly authorities: readonly TlsMaterial[];
}

const recordVersion = 1;
/** A CA lives ten years; node certificates live a day and rotation is explicit. */
const authorityValidDays = 3650;

/** The CA that issues now. */
export function issuingAuthority(authority: ClusterAuthority): TlsMaterial {
  const last = authority.authorities.at(-1);
  if (last === undefined) {
    throw invalidRecord();
  }
  return last;
}

/** The cluster's CA record as this node applied it, or undefined (call after a read point). */
export function readClusterAuthority(secure: SecureStore): ClusterAuthority | undefined {
  const stored = secure.getLocal(clusterAuthorityPath);
  return stored === undefined ? undefined : decodeAuthority(stored.value);
}

/**
 * Makes the cluster CA unless the cluster has one, and returns the one in force. Runs on the
 * active node (at init, and at becoming active for a cluster initialized before the cluster
 * port existed); a concurrent maker loses the check-and-set and reads the winner's.
 */
export async function ensureClusterAuthority(
  secure: SecureStore,
  options: { readonly clusterId: string; readonly nowMs: number },
): Promise<ClusterAuthority> {
  const { clusterId } = options;
  await secure.readPoint();
  const existing = readClusterAuthority(secure);
  if (existing !== undefined) {
    return existing;
  }
  const made: ClusterAuthority = {
    clusterId,
    authorities: [
      await createCertificateAuthority({
        commonName: `Coffer cluster CA ${clusterId}`,
        validDays: authorityValidDays,
        now: new Date(options.nowMs),
      }),
    ],
  };
  const written = await secure.write({
    conditions: [{ kind: 'absent', key: clusterAuthorityPath }],
    operations: [{ kind: 'put', key: clusterAuthorityPath, value: encodeAuthority(made) }],
  });
  if (written.ok) {
    return made;
  }
  await secure.readPoint();
  return readClusterAuthority(secure) ?? made;
}

function encodeAuthority(authority: ClusterAuthority): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ version: recordVersion, ...authority }));
}

function decodeAuthority(bytes: Uint8Array): ClusterAuthority {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw invalidRecord(error);
  }
  const record = parsed as Partial<{ version: unknown; clusterId: unknown; authorities: unknown }>;
  if (
    record.version !== recordVersion ||
    typeof record.clusterId !== 'string' ||
    !Array.isArray(record.authorities) ||
    record.authorities.length === 0 ||
    !record.authorities.every(isMaterial)
  ) {
    throw invalidRecord();
  }
  return { clusterId: record.clusterId, authorities: record.authorities };
}

function isMaterial(value: unknown): value is TlsMaterial {
  const material = value as Partial<Record<keyof TlsMaterial, unknown>> | null;
  return typeof material?.certPem === 'string' && typeof material.keyPem === 'string';
}

function invalidRecord(cause?: unknown): CoreError {
  return new CoreError(
    CoreErrorCode.clusterAuthorityInvalid,
    'Restore the replicated state from a snapshot: the cluster CA record does not decode',
    cause === undefined ? undefined : { cause },
  );
}
