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

/** One CA of the cluster, with when it was added (wall-clock ms; 0 for the first). */
export interface ClusterCa extends TlsMaterial {
  readonly addedAtMs?: number;
}

/** The CAs of one cluster. */
export interface ClusterAuthority {
  readonly clusterId: string;
  /** Newest last; the last one issues. Each with its key (secret). */
  readonly authorities: readonly ClusterCa[];
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

/**
 * Starts a CA rotation (active node): a new CA joins the trust bundle and issues from now on;
 * every node renews under it as soon as the record reaches it, and the old CA stays trusted
 * until {@link retireAuthorities} drops it, one certificate lifetime later.
 */
export async function rotateClusterAuthority(
  secure: SecureStore,
  options: { readonly nowMs: number },
): Promise<ClusterAuthority> {
  await secure.readPoint();
  const version = secure.versionLocal(clusterAuthorityPath);
  const current = readClusterAuthority(secure);
  if (current === undefined || version === undefined) {
    throw invalidRecord();
  }
  const next: ClusterCa = {
    ...(await createCertificateAuthority({
      commonName: `Coffer cluster CA ${current.clusterId}`,
      validDays: authorityValidDays,
      now: new Date(options.nowMs),
    })),
    addedAtMs: options.nowMs,
  };
  const rotated = { ...current, authorities: [...current.authorities, next] };
  await writeIfUnchanged(secure, version, rotated);
  return rotated;
}

/**
 * Drops every CA but the newest once the newest has issued for `certificateLifetimeMs`: by
 * then every node renewed under it (a node renews at two-thirds of a lifetime, and at once when
 * the record changes). Answers whether it dropped any.
 */
export async function retireAuthorities(
  secure: SecureStore,
  options: { readonly nowMs: number; readonly certificateLifetimeMs: number },
): Promise<boolean> {
  const version = secure.versionLocal(clusterAuthorityPath);
  const current = readClusterAuthority(secure);
  const newest = current?.authorities.at(-1);
  if (
    current === undefined ||
    version === undefined ||
    newest === undefined ||
    current.authorities.length < 2 ||
    options.nowMs < (newest.addedAtMs ?? 0) + options.certificateLifetimeMs
  ) {
    return false;
  }
  await writeIfUnchanged(secure, version, { ...current, authorities: [newest] });
  return true;
}

async function writeIfUnchanged(
  secure: SecureStore,
  version: number,
  authority: ClusterAuthority,
): Promise<void> {
  const written = await secure.write({
    conditions: [{ kind: 'version', key: clusterAuthorityPath, version }],
    operations: [{ kind: 'put', key: clusterAuthorityPath, value: encodeAuthority(authority) }],
  });
  if (!written.ok) {
    throw new CoreError(
      CoreErrorCode.writeRefused,
      'Retry: the cluster CA record changed meanwhile (another rotation)',
    );
  }
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

function isMaterial(value: unknown): value is ClusterCa {
  const material = value as Partial<Record<keyof ClusterCa, unknown>> | null;
  return (
    typeof material?.certPem === 'string' &&
    typeof material.keyPem === 'string' &&
    (material.addedAtMs === undefined || typeof material.addedAtMs === 'number')
  );
}

function invalidRecord(cause?: unknown): CoreError {
  return new CoreError(
    CoreErrorCode.clusterAuthorityInvalid,
    'Restore the replicated state from a snapshot: the cluster CA record does not decode',
    cause === undefined ? undefined : { cause },
  );
}
