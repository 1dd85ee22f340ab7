/**
 * The seal's stored state as one node sees it: the seal record and the wrapped blobs, read raw
 * from the local state (they must be readable while sealed), and the share quorums built over
 * them. Every read is validated; a node configured with another seal type than its cluster's is
 * refused with COFFER_CORE_SEAL_TYPE_MISMATCH rather than tried.
 */
import type { LevelStateStore, StoredValue } from '@coffer/storage';

import type { SecretKey } from '../barrier/secret_key.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { AttemptLimiter } from '../seal/attempt_limiter.ts';
import { createBreakGlassQuorum } from '../seal/break_glass.ts';
import { createRecoveryQuorum, createRecoveryRekeyQuorum } from '../seal/recovery_key.ts';
import { createRekeyQuorum } from '../seal/rekey.ts';
import { SealType, type SealBinding } from '../seal/seal_provider.ts';
import { createUnsealQuorum } from '../seal/shamir_seal.ts';
import type { ShareConfig } from '../seal/shamir.ts';
import type { ShareQuorum } from '../seal/share_quorum.ts';
import {
  rekeyQuorumOf,
  type NewShares,
  type RekeyOutcome,
  type RekeyQuorum,
} from './rekey_flow.ts';
import {
  breakGlassPath,
  recoveryCheckPath,
  sealRecordPath,
  wrappedRootKeyPath,
} from './seal_paths.ts';
import { decodeSealRecord, encodeSealRecord, type SealRecord } from './seal_record.ts';

/** Quorums that end in the root key. */
export type UnsealKind = 'unseal' | 'break-glass';

/** What SealState reads from. */
export interface SealStateOptions {
  readonly store: LevelStateStore;
  /** The seal type this node is configured with. */
  readonly configured: SealType;
  /** The node's limiter, shared by every quorum. */
  readonly limiter: AttemptLimiter;
}

/** Reads the seal's records and builds quorums over them. */
export class SealState {
  readonly #options: SealStateOptions;

  constructor(options: SealStateOptions) {
    this.#options = options;
  }

  /** The record, or undefined when absent or invalid; for status, never throws. */
  maybeRecord(): SealRecord | undefined {
    const stored = this.#options.store.get(sealRecordPath);
    if (stored === undefined) {
      return undefined;
    }
    try {
      return decodeSealRecord(stored.value);
    } catch {
      return undefined;
    }
  }

  /** The record of a seal of type `type`; throws when absent, invalid or of another type. */
  record(type: SealType): SealRecord {
    const stored = this.#options.store.get(sealRecordPath);
    if (stored === undefined) {
      throw new CoreError(
        CoreErrorCode.notInitialized,
        'Initialize the cluster first, or wait until this node has caught up: it holds no seal record',
      );
    }
    const record = decodeSealRecord(stored.value);
    const configured = this.#options.configured;
    if (record.type !== configured) {
      // NB: after a seal migration both sides happen: a node still configured with the old
      // seal holds the new records, and a node that was away holds the old ones.
      throw new CoreError(
        CoreErrorCode.sealTypeMismatch,
        `Start this node with the "${record.type}" seal its state holds: it is configured with ` +
          `"${configured}". After a migration to "${record.type}" that is the new seal config; ` +
          `if the cluster migrated to "${configured}" while this node was away, start it once ` +
          `with its "${record.type}" seal to catch up, or join it again with an empty data directory`,
      );
    }
    if (record.type !== type) {
      throw new CoreError(
        CoreErrorCode.sealTypeMismatch,
        `Use the operations of the "${record.type}" seal this cluster has (or migrate the ` +
          `seal): this one needs a "${type}" seal`,
      );
    }
    return record;
  }

  #stored(path: string): StoredValue {
    const stored = this.#options.store.get(path);
    if (stored === undefined) {
      throw new CoreError(
        CoreErrorCode.rootKeyBlobInvalid,
        `Restore the seal's records from a backup: "${path}" is missing`,
      );
    }
    return stored;
  }

  #blob(path: string): Uint8Array {
    return this.#stored(path).value;
  }

  /** A quorum of unseal shares (Shamir) or break-glass shares (HSM) that yields the root key. */
  unsealQuorum(kind: UnsealKind): ShareQuorum<SecretKey> {
    const limiter = this.#options.limiter;
    if (kind === 'unseal') {
      const record = this.record(SealType.shamir);
      const wrapped = this.#blob(wrappedRootKeyPath);
      return createUnsealQuorum({
        config: record.shares,
        wrapped,
        binding: bindingOf(record),
        limiter,
      });
    }
    const record = this.record(SealType.pkcs11);
    const stored = this.#options.store.get(breakGlassPath);
    return createBreakGlassQuorum({
      config: record.breakGlass ?? record.shares,
      wrapped: record.breakGlass === undefined ? undefined : stored?.value,
      binding: bindingOf(record),
      limiter,
    });
  }

  /**
   * The generate-root quorum: unseal shares verified against the wrapped root key (Shamir), or
   * recovery shares verified against the recovery check (HSM). Its value carries no secret the
   * caller keeps: a Shamir quorum's root key is released (zeroed) at once.
   */
  generateRootQuorum(): ShareQuorum<unknown> {
    const limiter = this.#options.limiter;
    if (this.#options.configured === SealType.shamir) {
      return this.unsealQuorum('unseal');
    }
    const record = this.record(SealType.pkcs11);
    const wrapped = this.#blob(recoveryCheckPath);
    return createRecoveryQuorum({
      config: record.shares,
      wrapped,
      binding: bindingOf(record),
      limiter,
    });
  }

  /**
   * A rekey quorum over the current shares (unseal shares for Shamir, recovery shares for an
   * HSM). Its outcome carries the new shares and the check-and-set writes of the new record and
   * blob, conditioned on the versions read now.
   */
  rekeyQuorum(next: ShareConfig): RekeyQuorum {
    const type = this.#options.configured;
    const record = this.record(type);
    const blobPath = type === SealType.shamir ? wrappedRootKeyPath : recoveryCheckPath;
    const blob = this.#stored(blobPath);
    const recordVersion = this.#stored(sealRecordPath).version;
    const options = {
      config: record.shares,
      wrapped: blob.value,
      binding: bindingOf(record),
      limiter: this.#options.limiter,
      next,
    };
    const toOutcome = (result: NewShares): Promise<RekeyOutcome> =>
      Promise.resolve({
        shares: result.shares,
        conditions: [
          { kind: 'version', key: sealRecordPath, version: recordVersion },
          { kind: 'version', key: blobPath, version: blob.version },
        ],
        operations: [
          {
            kind: 'put',
            key: sealRecordPath,
            value: encodeSealRecord({ ...record, shares: next }),
          },
          {
            kind: 'put',
            key: blobPath,
            value: 'wrappedRootKey' in result ? result.wrappedRootKey : result.check,
          },
        ],
      });
    const quorum: ShareQuorum<NewShares> =
      type === SealType.shamir ? createRekeyQuorum(options) : createRecoveryRekeyQuorum(options);
    return rekeyQuorumOf(quorum, toOutcome);
  }

  /** The HSM-wrapped root key and its binding. */
  hsmWrappedRootKey(): { readonly wrapped: Uint8Array; readonly binding: SealBinding } {
    const record = this.record(SealType.pkcs11);
    return { wrapped: this.#blob(wrappedRootKeyPath), binding: bindingOf(record) };
  }
}

function bindingOf(record: SealRecord): SealBinding {
  return { clusterId: record.clusterId };
}
