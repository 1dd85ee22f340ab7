/**
 * Paths of the seal's own records in the replicated state. They must be readable while the node
 * is sealed (the unseal flow needs them before the barrier holds a key), so they are written raw,
 * not through the barrier. None of them is secret: the seal record holds share counts and the
 * cluster id, and every blob is an authenticated ciphertext of a key (docs/design/seal.md).
 *
 * Invariant: init writes all of them and the first keyring in one check-and-set transaction, so
 * a cluster is either initialized completely or not at all.
 */

/** The seal record: type, cluster id and share configs (JSON, see seal_record.ts). */
export const sealRecordPath = 'core/seal/config';

/** The root key wrapped by the seal (the Shamir unseal key or the HSM key). */
export const wrappedRootKeyPath = 'core/seal/root-key';

/** HSM seals: the recovery key check (a marker wrapped under the recovery key). */
export const recoveryCheckPath = 'core/seal/recovery-check';

/** HSM seals with break-glass: the root key wrapped under the break-glass key. */
export const breakGlassPath = 'core/seal/break-glass';
