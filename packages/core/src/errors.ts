/**
 * Error codes and the error class for operating failures in @coffer/core.
 *
 * Codes are stable strings "COFFER_CORE_<WHAT>" (STYLE.md 5.2): callers match on `err.code`,
 * never on the message and never with instanceof across packages (STYLE.md 5.3). Every code
 * here is listed in docs/errors.md; test/src/errors_doc.test.ts fails when one is missing.
 */

/** Every error code that @coffer/core throws, keyed by a short name. */
export const CoreErrorCode = {
  /** The node is sealed; unseal it before serving requests. */
  sealed: 'COFFER_CORE_SEALED',
  /** A value read through the barrier failed authenticated decryption. */
  barrierDecryptFailed: 'COFFER_CORE_BARRIER_DECRYPT_FAILED',
  /** A value read through the barrier is too short or of an unsupported format version. */
  barrierInvalidCiphertext: 'COFFER_CORE_BARRIER_INVALID_CIPHERTEXT',
  /** A ciphertext or request names a keyring term this barrier does not hold. */
  barrierUnknownTerm: 'COFFER_CORE_BARRIER_UNKNOWN_TERM',
  /** This node holds no encryption reservation left under the active term. */
  barrierReservationExhausted: 'COFFER_CORE_BARRIER_RESERVATION_EXHAUSTED',
  /** The active data key reached its encryption limit; the keyring must rotate first. */
  barrierRotationRequired: 'COFFER_CORE_BARRIER_ROTATION_REQUIRED',
  /** A keyring term cannot be dropped: it is active or stored values still reference it. */
  barrierTermInUse: 'COFFER_CORE_BARRIER_TERM_IN_USE',
  /** A barrier option (rotation policy) is missing or out of range. */
  barrierInvalidConfig: 'COFFER_CORE_BARRIER_INVALID_CONFIG',
  /** Unseal was called on a barrier that is already unsealed. */
  barrierAlreadyUnsealed: 'COFFER_CORE_BARRIER_ALREADY_UNSEALED',
  /** The encrypted keyring failed authentication or validation (or the root key is wrong). */
  keyringCorrupt: 'COFFER_CORE_KEYRING_CORRUPT',
  /** A keyring change was prepared on an older keyring generation; it was not applied. */
  keyringChangeStale: 'COFFER_CORE_KEYRING_CHANGE_STALE',
  /** A keyring change breaks a keyring rule (replaced key, lowered count); it was not applied. */
  keyringChangeInvalid: 'COFFER_CORE_KEYRING_CHANGE_INVALID',
  /** The configured seal (Shamir or HSM) could not be reached or used. */
  sealUnavailable: 'COFFER_CORE_SEAL_UNAVAILABLE',
  /** A seal option (share counts, PKCS#11 settings, cluster id) is missing or out of range. */
  sealConfigInvalid: 'COFFER_CORE_SEAL_CONFIG_INVALID',
  /** The HSM PIN file is not a regular file of this user with mode 0600 or 0400; it was not read. */
  sealPinFileInsecure: 'COFFER_CORE_SEAL_PIN_FILE_INSECURE',
  /** Init asked to generate an HSM key, but a key with that label already exists on the token. */
  sealKeyExists: 'COFFER_CORE_SEAL_KEY_EXISTS',
  /** A stored wrapped root key (or key check) is truncated or of an unknown format. */
  rootKeyBlobInvalid: 'COFFER_CORE_ROOT_KEY_BLOB_INVALID',
  /** The seal could not authenticate the stored root key: another key, cluster, or tampering. */
  rootKeyUnwrapFailed: 'COFFER_CORE_ROOT_KEY_UNWRAP_FAILED',
  /** The submitted shares did not reconstruct a key that opens the stored data; start again. */
  unsealFailed: 'COFFER_CORE_UNSEAL_FAILED',
  /** A submitted share is not a well-formed share of this seal's size and version. */
  shareMalformed: 'COFFER_CORE_SHARE_MALFORMED',
  /** The same share was already submitted in this attempt; it was not counted again. */
  shareDuplicate: 'COFFER_CORE_SHARE_DUPLICATE',
  /** A share names another attempt's nonce (the attempt was reset or completed). */
  unsealNonceMismatch: 'COFFER_CORE_UNSEAL_NONCE_MISMATCH',
  /** Too many failed attempts: shares are refused until the wait in the message has passed. */
  unsealRateLimited: 'COFFER_CORE_UNSEAL_RATE_LIMITED',
  /** Break-glass recovery was asked for, but this cluster was initialized without it. */
  breakGlassNotConfigured: 'COFFER_CORE_BREAK_GLASS_NOT_CONFIGURED',
  /** The cluster has no keyring yet (or this node has not caught up): initialize it first. */
  notInitialized: 'COFFER_CORE_NOT_INITIALIZED',
  /** This node is not the active node (or lost leadership mid-request); retry on the active one. */
  notActive: 'COFFER_CORE_NOT_ACTIVE',
  /**
   * This node leads but is not ready to serve yet: it has not applied the no-op of its term
   * (so its state may lag what an earlier leader acknowledged). Retry in a moment.
   */
  notReady: 'COFFER_CORE_NOT_READY',
  /**
   * This node is not in the cluster's configuration: it was removed (it applied its removal,
   * or a majority of voters refused it as no member). It serves nothing until it joins again.
   */
  removed: 'COFFER_CORE_REMOVED',
  /**
   * This node has known no leader for longer than an election takes: it cannot reach a quorum
   * of the cluster (a partition), or the cluster lost its quorum. Retry on another node.
   */
  noLeader: 'COFFER_CORE_NO_LEADER',
  /** The replicated state refused a write (a check-and-set lost a race); nothing was written. */
  writeRefused: 'COFFER_CORE_WRITE_REFUSED',
  /** The state and the Raft snapshot asked of it are at different indexes: a driver bug. */
  snapshotMismatch: 'COFFER_CORE_SNAPSHOT_MISMATCH',
  /**
   * A committed entry this node cannot read (written by a newer Coffer, or damaged): its Raft
   * stopped before applying it, rather than guess.
   */
  unknownEntry: 'COFFER_CORE_UNKNOWN_ENTRY',
  /** Init was called on a cluster that is already initialized; nothing was changed. */
  alreadyInitialized: 'COFFER_CORE_ALREADY_INITIALIZED',
  /** The stored seal record (seal type, cluster id, share counts) does not decode. */
  sealRecordInvalid: 'COFFER_CORE_SEAL_RECORD_INVALID',
  /** The node's configured seal type differs from the one its cluster was initialized with. */
  sealTypeMismatch: 'COFFER_CORE_SEAL_TYPE_MISMATCH',
  /** A generate-root, rekey, migration or init request does not fit the current attempt. */
  attemptInvalid: 'COFFER_CORE_ATTEMPT_INVALID',
  /** A seal migration was asked to start while one is running; cancel it or finish it first. */
  sealMigrationRunning: 'COFFER_CORE_SEAL_MIGRATION_RUNNING',
  /**
   * A migration to a PKCS#11 seal was asked of an active node whose server config names no
   * target seal (`seal_migration_target`): the HSM settings come from the config, never a request.
   */
  sealMigrationTargetMissing: 'COFFER_CORE_SEAL_MIGRATION_TARGET_MISSING',
  /** The token is missing, malformed, expired or revoked, or its policies deny the request. */
  permissionDenied: 'COFFER_CORE_PERMISSION_DENIED',
  /** The request path has an empty, `.`, `..`, control-character or `%` segment, or is not NFC. */
  invalidPath: 'COFFER_CORE_INVALID_PATH',
  /** The request's fields are unknown, of the wrong type, missing or out of range. */
  invalidRequest: 'COFFER_CORE_INVALID_REQUEST',
  /** The request or a value in it is larger than the configured limit. */
  valueTooLarge: 'COFFER_CORE_VALUE_TOO_LARGE',
  /** Nothing is mounted at the path, or the path does not exist. */
  notFound: 'COFFER_CORE_NOT_FOUND',
  /** The path exists but does not support the operation. */
  unsupportedOperation: 'COFFER_CORE_UNSUPPORTED_OPERATION',
  /**
   * The request asked for a stale read but is not a read or list of secrets (a `sys/`, `auth/`
   * or `cubbyhole/` path, a write, or a wrapped read); nothing was done. Send it without it.
   */
  staleReadRefused: 'COFFER_CORE_STALE_READ_REFUSED',
  /** A check-and-set write named a version that is not the current one; nothing was written. */
  casMismatch: 'COFFER_CORE_CAS_MISMATCH',
  /** A login's credentials were not accepted (one answer for every wrong credential). */
  loginFailed: 'COFFER_CORE_LOGIN_FAILED',
  /** Too many attempts (failed logins): retry after the wait the response names. */
  rateLimited: 'COFFER_CORE_RATE_LIMITED',
  /** Audit devices are enabled and none could record the request: it was not served. */
  auditUnavailable: 'COFFER_CORE_AUDIT_UNAVAILABLE',
  /** An audit file's hash chain is broken: a line was removed, edited or reordered. */
  auditChainBroken: 'COFFER_CORE_AUDIT_CHAIN_BROKEN',
  /** A policy document does not parse or breaks a rule of the policy language. */
  policyInvalid: 'COFFER_CORE_POLICY_INVALID',
  /** A mount path is taken, overlaps another mount, or is reserved. */
  mountConflict: 'COFFER_CORE_MOUNT_CONFLICT',
  /** The lease does not exist, expired, or is not renewable. */
  leaseInvalid: 'COFFER_CORE_LEASE_INVALID',
  /**
   * A peer on the cluster port was refused: its certificate is not from this cluster's CA, has
   * expired, names another cluster or node, or names a node that is not a member.
   */
  clusterPeerRefused: 'COFFER_CORE_CLUSTER_PEER_REFUSED',
  /** The cluster CA record in the replicated state does not decode. */
  clusterAuthorityInvalid: 'COFFER_CORE_CLUSTER_AUTHORITY_INVALID',
  /** This node has no cluster certificate yet (sealed, or the cluster CA is not replicated here). */
  clusterIdentityUnavailable: 'COFFER_CORE_CLUSTER_IDENTITY_UNAVAILABLE',
  /**
   * A join was refused: a malformed, unknown, used or expired token, a node id already in use,
   * a CA that does not match the token's pin, or a grant that does not authenticate.
   */
  joinRefused: 'COFFER_CORE_JOIN_REFUSED',
  /**
   * A peers file for `operator raft recover` cannot be read or fails validation (not a JSON
   * list of {id, address?, non_voter?}, empty, a duplicate, without this node, or naming a node
   * that is no member); the message names each field. Nothing was written.
   */
  peersInvalid: 'COFFER_CORE_PEERS_INVALID',
  /** An offline operation found the data directory held by a running server; stop it first. */
  dataDirInUse: 'COFFER_CORE_DATA_DIR_IN_USE',
  /** `operator raft recover` found no node state and Raft log in the data directory. */
  recoveryRefused: 'COFFER_CORE_RECOVERY_REFUSED',
  /**
   * A `sys/events` read cannot continue from the index it names: the index belongs to another
   * epoch (the node restarted, or another node), is past the node's last event, or its next
   * event fell out of the retention window. Read the state again and subscribe without one.
   */
  eventsIndexExpired: 'COFFER_CORE_EVENTS_INDEX_EXPIRED',
  /** The request failed on an unexpected internal error; the server log has details. */
  internal: 'COFFER_CORE_INTERNAL',
} as const;

/** The union of every @coffer/core error code string. */
export type CoreErrorCode = (typeof CoreErrorCode)[keyof typeof CoreErrorCode];

/** Options for {@link CoreError}; pass `cause` whenever wrapping another error (STYLE.md 5.4). */
export interface CoreErrorOptions {
  /** The error or value that caused this one. */
  readonly cause?: unknown;
}

/**
 * An operating failure in @coffer/core: the barrier, a seal or a request could not be served.
 *
 * NB: bugs fail an assert instead, and outcomes a caller must branch on are returned as a
 * discriminated union, not thrown (STYLE.md 5.1).
 */
export class CoreError extends Error {
  /** The stable code to match on. */
  readonly code: CoreErrorCode;

  /**
   * Creates an error. The message names what failed and what to do, action first, and never
   * contains secret material (STYLE.md 5.6, 5.7).
   */
  constructor(code: CoreErrorCode, message: string, options?: CoreErrorOptions) {
    super(message, options);
    this.name = 'CoreError';
    this.code = code;
  }
}

/**
 * text as a JSON string on one line of plain text, cut after lengthMax characters: what an error
 * message quotes of a caller's input (a path, a name). JSON.stringify escapes the C0 controls;
 * DEL, the C1 controls, the line and paragraph separators and the bidirectional controls (which
 * could make a quoted path read differently) are escaped here too.
 */
export function quoteInput(text: string, lengthMax: number): string {
  const shown = text.length > lengthMax ? `${text.slice(0, lengthMax)}...` : text;
  return JSON.stringify(shown).replace(
    /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
