/**
 * Seal migration on one node (issue 6 item 5): Shamir to PKCS#11 and back, while the node is
 * unsealed and active, authorized by a quorum of the current shares. Only the root key's
 * wrapping changes; the keyring and every stored value stay as they are.
 *
 *   Shamir ─▶ PKCS#11: unseal shares open the stored root key ─▶ the HSM wraps it (key
 *                      generated inside the token when asked) ─▶ new recovery shares
 *   PKCS#11 ─▶ Shamir: recovery shares authorize ─▶ the node's HSM unwraps the root key ─▶ a
 *                      new unseal key wraps it ─▶ new unseal shares
 *
 * The new record and blobs replace the old ones in one check-and-set transaction (on the
 * versions read when the attempt started), before the new shares are returned; the old
 * recovery check and break-glass blob are deleted. Then reopen the node with the new seal
 * config: until then its status shows the stored seal type beside the configured one.
 * NB: break-glass shares are not made by a migration (TODO(#6)); init makes them.
 */
import type { LevelStateStore, StateOperation } from '@coffer/storage';

import type { SecretKey } from '../barrier/secret_key.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { AttemptLimiter } from '../seal/attempt_limiter.ts';
import type { Pkcs11SealConfig } from '../seal/pkcs11_config.ts';
import { Pkcs11Seal } from '../seal/pkcs11_seal.ts';
import { createRecoveryKey, createRecoveryQuorum } from '../seal/recovery_key.ts';
import { SealType, type SealBinding, type SealLogger } from '../seal/seal_provider.ts';
import { createUnsealQuorum, initShamir } from '../seal/shamir_seal.ts';
import { shareConfigDefault, validateShareConfig, type ShareConfig } from '../seal/shamir.ts';
import { rekeyQuorumOf, type RekeyOutcome, type RekeyQuorum } from './rekey_flow.ts';
import {
  breakGlassPath,
  recoveryCheckPath,
  sealRecordPath,
  wrappedRootKeyPath,
} from './seal_paths.ts';
import { encodeSealRecord, sealRecordVersion, type SealRecord } from './seal_record.ts';
import type { SealState } from './seal_state.ts';

/** Where to migrate to. */
export type SealMigrationTarget =
  | {
      readonly type: typeof SealType.shamir;
      /** The new unseal shares. Default 5 of 3. */
      readonly shares?: ShareConfig;
    }
  | {
      readonly type: typeof SealType.pkcs11;
      readonly config: Pkcs11SealConfig;
      /** Generate the wrapping key inside the HSM (refused when the label is taken). */
      readonly generateHsmKey?: boolean;
      /** The new recovery shares. Default 5 of 3. */
      readonly recovery?: ShareConfig;
    };

/**
 * A migration as an operator asks for it over the API (sys/seal-migration/init): the target
 * type and the new shares, never HSM settings. A PKCS#11 target's settings (library, token,
 * key label, PIN file) come from the active node's server config (`seal_migration_target`),
 * so no PIN or HSM path travels in a request, an audit line or a command line.
 */
export interface SealMigrationRequest {
  readonly type: SealType;
  /** The new shares: unseal shares (Shamir target) or recovery shares (PKCS#11 target). */
  readonly shares?: ShareConfig;
  /** PKCS#11 target: generate the wrapping key inside the HSM (refused when the label is taken). */
  readonly generateHsmKey?: boolean;
}

/**
 * The target of `request` on a node whose config names `configured` as its PKCS#11 migration
 * target (if any). Throws COFFER_CORE_SEAL_MIGRATION_TARGET_MISSING for a PKCS#11 target the
 * config does not name.
 */
export function migrationTargetOf(
  request: SealMigrationRequest,
  configured: Pkcs11SealConfig | undefined,
): SealMigrationTarget {
  if (request.type === SealType.shamir) {
    return {
      type: SealType.shamir,
      ...(request.shares === undefined ? {} : { shares: request.shares }),
    };
  }
  if (configured === undefined) {
    throw new CoreError(
      CoreErrorCode.sealMigrationTargetMissing,
      'Add a "seal_migration_target" section (the PKCS#11 seal to migrate to) to the server ' +
        'config of the active node and restart it: this node names no PKCS#11 target, and HSM ' +
        'settings are never taken from a request',
    );
  }
  return {
    type: SealType.pkcs11,
    config: configured,
    ...(request.generateHsmKey === true ? { generateHsmKey: true } : {}),
    ...(request.shares === undefined ? {} : { recovery: request.shares }),
  };
}

/** What a migration reads and uses. */
export interface SealMigrationContext {
  readonly store: LevelStateStore;
  readonly sealState: SealState;
  readonly limiter: AttemptLimiter;
  /** The node's own HSM seal (a PKCS#11 node), which unwraps the root key. */
  readonly hsm: Pkcs11Seal | undefined;
  readonly logger: SealLogger;
}

/** The share config the new shares will have. */
export function migrationShares(target: SealMigrationTarget): ShareConfig {
  const config = (target.type === SealType.shamir ? target.shares : target.recovery) ?? {
    ...shareConfigDefault,
  };
  validateShareConfig(config);
  return config;
}

function version(store: LevelStateStore, path: string): number {
  const stored = store.get(path);
  if (stored === undefined) {
    throw new CoreError(
      CoreErrorCode.rootKeyBlobInvalid,
      `Restore the seal's records from a backup: "${path}" is missing`,
    );
  }
  return stored.version;
}

/** The transaction that replaces the seal's records, on the versions read now. */
function outcomeOf(
  context: SealMigrationContext,
  record: SealRecord,
  parts: { readonly shares: SecretKey[]; readonly puts: readonly StateOperation[] },
): RekeyOutcome {
  const { store } = context;
  return {
    shares: parts.shares,
    conditions: [
      { kind: 'version', key: sealRecordPath, version: version(store, sealRecordPath) },
      { kind: 'version', key: wrappedRootKeyPath, version: version(store, wrappedRootKeyPath) },
    ],
    operations: [
      { kind: 'delete', key: recoveryCheckPath },
      { kind: 'delete', key: breakGlassPath },
      { kind: 'put', key: sealRecordPath, value: encodeSealRecord(record) },
      ...parts.puts,
    ],
  };
}

/** Shamir → PKCS#11: the unseal shares yield the root key, which the target HSM wraps. */
function toPkcs11(
  context: SealMigrationContext,
  target: Extract<SealMigrationTarget, { type: 'pkcs11' }>,
): RekeyQuorum {
  const record = context.sealState.record(SealType.shamir);
  const binding: SealBinding = { clusterId: record.clusterId };
  const recovery = migrationShares(target);
  const wrapped = context.store.get(wrappedRootKeyPath)?.value ?? new Uint8Array();
  const quorum = createUnsealQuorum({
    config: record.shares,
    wrapped,
    binding,
    limiter: context.limiter,
  });
  return rekeyQuorumOf(quorum, async (rootKey) => {
    const hsm = new Pkcs11Seal(target.config, { logger: context.logger });
    try {
      if (target.generateHsmKey === true) {
        await hsm.generateKey();
      }
      const wrappedRootKey = await hsm.wrapRootKey(rootKey, binding);
      const made = await createRecoveryKey({ config: recovery, binding });
      const next: SealRecord = {
        ...record,
        version: sealRecordVersion,
        type: SealType.pkcs11,
        shares: recovery,
      };
      return outcomeOf(context, next, {
        shares: made.shares,
        puts: [
          { kind: 'put', key: wrappedRootKeyPath, value: wrappedRootKey },
          { kind: 'put', key: recoveryCheckPath, value: made.check },
        ],
      });
    } finally {
      rootKey.zero();
      await hsm.close();
    }
  });
}

/** PKCS#11 → Shamir: recovery shares authorize; the node's HSM unwraps the root key. */
function toShamir(
  context: SealMigrationContext,
  target: Extract<SealMigrationTarget, { type: 'shamir' }>,
): RekeyQuorum {
  const record = context.sealState.record(SealType.pkcs11);
  const binding: SealBinding = { clusterId: record.clusterId };
  const shares = migrationShares(target);
  const hsm = context.hsm;
  const check = context.store.get(recoveryCheckPath)?.value ?? new Uint8Array();
  const quorum = createRecoveryQuorum({
    config: record.shares,
    wrapped: check,
    binding,
    limiter: context.limiter,
  });
  return rekeyQuorumOf(quorum, async () => {
    const wrapped = context.store.get(wrappedRootKeyPath)?.value ?? new Uint8Array();
    if (hsm === undefined) {
      throw new CoreError(
        CoreErrorCode.sealTypeMismatch,
        'Migrate from the PKCS#11 seal on a node configured with it: this node has no HSM',
      );
    }
    const rootKey = await hsm.unwrapRootKey(wrapped, binding);
    try {
      const made = await initShamir(rootKey, { config: shares, binding });
      const next: SealRecord = {
        version: sealRecordVersion,
        type: SealType.shamir,
        clusterId: record.clusterId,
        shares,
      };
      return outcomeOf(context, next, {
        shares: made.shares,
        puts: [{ kind: 'put', key: wrappedRootKeyPath, value: made.wrappedRootKey }],
      });
    } finally {
      rootKey.zero();
    }
  });
}

/**
 * A quorum of the current shares that, once verified, prepares the migration to `target`.
 * Throws COFFER_CORE_SEAL_TYPE_MISMATCH when the cluster's seal is not the one migrated from.
 */
export function sealMigrationQuorum(
  context: SealMigrationContext,
  target: SealMigrationTarget,
): RekeyQuorum {
  return target.type === SealType.pkcs11 ? toPkcs11(context, target) : toShamir(context, target);
}
