/**
 * Init: runs once per cluster, on the leader of a fresh cluster. It makes the root key, wraps it
 * with the seal, makes the first keyring and the initial root token, and hands the shares and
 * the token back exactly once.
 *
 *   validate config ─▶ root key ─▶ wrap (Shamir: unseal key split into shares;
 *                                        PKCS#11: HSM key, recovery shares, opt. break-glass)
 *        ─▶ first keyring ─▶ ONE check-and-set transaction: seal record, wrapped root key,
 *           recovery check, break-glass blob and keyring, all "absent" before
 *        ─▶ root token (through the barrier) ─▶ shares and token, encoded at this edge only
 *
 * NB: once the transaction applied, the shares are returned even if the root token cannot be
 * written: losing them would lose the cluster, and generate-root makes a token from them.
 * NB: the seal's records and the keyring go in one transaction, rather than the keyring through
 * SecureStore.initialize after the records, so that a crash or a concurrent init can never leave
 * a cluster with a seal record but no keyring (or shares that open nothing): the second init
 * finds something present and is refused with COFFER_CORE_ALREADY_INITIALIZED.
 */
import { randomUUID } from 'node:crypto';

import type { RaftNode } from '@coffer/raft/node';
import type { LevelStateStore, StateOperation } from '@coffer/storage';

import type { Barrier } from '../barrier/barrier.ts';
import { initializeKeyring } from '../barrier/keyring_change.ts';
import type { SecretKey } from '../barrier/secret_key.ts';
import { ensureClusterAuthority } from '../cluster/cluster_authority.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { SecureStore } from '../replicated/secure_store.ts';
import { keyringPath } from '../replicated/system_paths.ts';
import { createBreakGlass } from '../seal/break_glass.ts';
import type { Pkcs11Seal } from '../seal/pkcs11_seal.ts';
import { createRecoveryKey } from '../seal/recovery_key.ts';
import { SealType, type SealBinding, type SealLogger } from '../seal/seal_provider.ts';
import { generateRootKey, initShamir } from '../seal/shamir_seal.ts';
import { shareConfigDefault, validateShareConfig, type ShareConfig } from '../seal/shamir.ts';
import { encodeShare } from '../seal/share_encoding.ts';
import { proposeRaw } from './raw_state.ts';
import { createRootToken } from './root_token.ts';
import {
  breakGlassPath,
  recoveryCheckPath,
  sealRecordPath,
  wrappedRootKeyPath,
} from './seal_paths.ts';
import { encodeSealRecord, sealRecordVersion, type SealRecord } from './seal_record.ts';

/** What the operator asks for at init. Every field has a default. */
export interface InitRequest {
  /** Shamir: unseal shares; PKCS#11: recovery shares. Default 5. */
  readonly shares?: number;
  /** Default 3. */
  readonly threshold?: number;
  /** PKCS#11: generate the wrapping key inside the HSM (refused when the label is taken). */
  readonly generateHsmKey?: boolean;
  /** PKCS#11: also make break-glass shares (docs/design/seal.md weighs it). Default off. */
  readonly breakGlass?: ShareConfig;
}

/**
 * What init hands back, once. Every string here is secret: deliver it and drop it; never log
 * it or keep it.
 */
export interface InitResult {
  readonly clusterId: string;
  readonly sealType: SealType;
  /** Shamir only: the unseal shares (`coffer1:...`). */
  readonly unsealShares: readonly string[];
  /** PKCS#11 only: the recovery shares, which authorize but cannot decrypt. */
  readonly recoveryShares: readonly string[];
  /** PKCS#11 with break-glass only: shares that can decrypt the root key without the HSM. */
  readonly breakGlassShares: readonly string[];
  /**
   * The initial root token; undefined only when the cluster was initialized but the token could
   * not be written (leadership lost right after init). Then make one with generate-root.
   */
  readonly rootToken: string | undefined;
}

/** The parts of a node init works with. */
export interface InitContext {
  readonly node: RaftNode;
  readonly store: LevelStateStore;
  readonly barrier: Barrier;
  readonly secure: SecureStore;
  /** The HSM seal, when the node is configured with one; Shamir otherwise. */
  readonly hsm: Pkcs11Seal | undefined;
  /** Wall-clock ms since the epoch. */
  readonly nowMs: number;
  readonly logger: SealLogger;
}

/** The wrapped material of one init, before it is stored. */
interface Wrapped {
  readonly record: SealRecord;
  readonly operations: StateOperation[];
  readonly unsealShares: SecretKey[];
  readonly recoveryShares: SecretKey[];
  readonly breakGlassShares: SecretKey[];
}

function alreadyInitialized(): CoreError {
  return new CoreError(
    CoreErrorCode.alreadyInitialized,
    'Unseal with the shares of the first init instead: this cluster is already initialized',
  );
}

function shareConfigOf(request: InitRequest): ShareConfig {
  const config = {
    shares: request.shares ?? shareConfigDefault.shares,
    threshold: request.threshold ?? shareConfigDefault.threshold,
  };
  validateShareConfig(config);
  return config;
}

async function wrapShamir(
  rootKey: SecretKey,
  binding: SealBinding,
  request: InitRequest,
): Promise<Wrapped> {
  if (request.breakGlass !== undefined || request.generateHsmKey === true) {
    throw new CoreError(
      CoreErrorCode.sealConfigInvalid,
      'Drop the HSM options: break-glass shares and HSM key generation need a PKCS#11 seal',
    );
  }
  const shamir = await initShamir(rootKey, { config: shareConfigOf(request), binding });
  const record: SealRecord = {
    version: sealRecordVersion,
    type: SealType.shamir,
    clusterId: binding.clusterId,
    shares: shamir.config,
  };
  const wrapped: Wrapped = {
    record,
    operations: [{ kind: 'put', key: wrappedRootKeyPath, value: shamir.wrappedRootKey }],
    unsealShares: shamir.shares,
    recoveryShares: [],
    breakGlassShares: [],
  };
  return wrapped;
}

async function wrapPkcs11(
  rootKey: SecretKey,
  binding: SealBinding,
  options: { readonly hsm: Pkcs11Seal; readonly request: InitRequest },
): Promise<Wrapped> {
  const { hsm, request } = options;
  const config = shareConfigOf(request);
  if (request.breakGlass !== undefined) {
    validateShareConfig(request.breakGlass);
  }
  if (request.generateHsmKey === true) {
    await hsm.generateKey();
  }
  const wrappedRootKey = await hsm.wrapRootKey(rootKey, binding);
  const recovery = await createRecoveryKey({ config, binding });
  const operations: StateOperation[] = [
    { kind: 'put', key: wrappedRootKeyPath, value: wrappedRootKey },
    { kind: 'put', key: recoveryCheckPath, value: recovery.check },
  ];
  let record: SealRecord = {
    version: sealRecordVersion,
    type: SealType.pkcs11,
    clusterId: binding.clusterId,
    shares: config,
  };
  let breakGlassShares: SecretKey[] = [];
  if (request.breakGlass !== undefined) {
    const breakGlass = await createBreakGlass(rootKey, { config: request.breakGlass, binding });
    operations.push({ kind: 'put', key: breakGlassPath, value: breakGlass.wrappedRootKey });
    record = { ...record, breakGlass: breakGlass.config };
    breakGlassShares = breakGlass.shares;
  }
  return {
    record,
    operations,
    unsealShares: [],
    recoveryShares: recovery.shares,
    breakGlassShares,
  };
}

/** Stores the seal's records and the first keyring in one check-and-set transaction. */
async function storeInit(
  context: InitContext,
  wrapped: Wrapped,
  rootKey: SecretKey,
): Promise<void> {
  const keyring = initializeKeyring(rootKey, { nowMs: context.nowMs });
  context.barrier.unseal(rootKey.clone(), keyring);
  let applied = false;
  try {
    const outcome = await proposeRaw(
      context.node,
      {
        kind: 'transaction',
        conditions: [
          { kind: 'absent', key: sealRecordPath },
          { kind: 'absent', key: keyringPath },
        ],
        operations: [
          { kind: 'put', key: sealRecordPath, value: encodeSealRecord(wrapped.record) },
          ...wrapped.operations,
          { kind: 'put', key: keyringPath, value: keyring },
        ],
      },
      'initialize the cluster',
    );
    applied = outcome.applied;
  } finally {
    if (!applied) {
      context.barrier.seal();
    }
  }
  if (!applied) {
    throw alreadyInitialized();
  }
}

function encodeAll(shares: readonly SecretKey[]): string[] {
  return shares.map((share) => encodeShare(share));
}

/**
 * Initializes the cluster through `context` (the leader of a fresh cluster). Throws
 * COFFER_CORE_ALREADY_INITIALIZED when it was initialized before, COFFER_CORE_SEAL_CONFIG_INVALID
 * for a bad request, COFFER_CORE_NOT_ACTIVE when this node is not the leader.
 */
export async function initCluster(context: InitContext, request: InitRequest): Promise<InitResult> {
  if (
    context.store.get(sealRecordPath) !== undefined ||
    context.store.get(keyringPath) !== undefined
  ) {
    throw alreadyInitialized();
  }
  const binding = { clusterId: `coffer-${randomUUID()}` };
  const rootKey = generateRootKey();
  let wrapped: Wrapped | undefined;
  try {
    wrapped =
      context.hsm === undefined
        ? await wrapShamir(rootKey, binding, request)
        : await wrapPkcs11(rootKey, binding, { hsm: context.hsm, request });
    await storeInit(context, wrapped, rootKey);
    // NB: like the root token, the CA may fail after the cluster exists; the active node makes
    // it later then (cluster_presence.ts), so init still hands back the shares.
    await ensureClusterAuthority(context.secure, {
      clusterId: binding.clusterId,
      nowMs: context.nowMs,
    }).catch((error: unknown) => {
      const code = (error as { code?: unknown } | undefined)?.code;
      context.logger.warn('cluster_authority_not_written', {
        code: typeof code === 'string' ? code : 'unknown',
        action: 'the active node makes it within a second',
      });
    });
    const rootToken = await createRootToken(context.secure, {
      barrier: context.barrier,
      nowMs: context.nowMs,
    }).catch((error: unknown) => {
      const code = (error as { code?: unknown } | undefined)?.code;
      context.logger.warn('root_token_not_written', {
        code: typeof code === 'string' ? code : 'unknown',
        action: 'generate a root token with generate-root',
      });
      return undefined;
    });
    return {
      clusterId: binding.clusterId,
      sealType: wrapped.record.type,
      unsealShares: encodeAll(wrapped.unsealShares),
      recoveryShares: encodeAll(wrapped.recoveryShares),
      breakGlassShares: encodeAll(wrapped.breakGlassShares),
      rootToken,
    };
  } finally {
    rootKey.zero();
    for (const share of [
      ...(wrapped?.unsealShares ?? []),
      ...(wrapped?.recoveryShares ?? []),
      ...(wrapped?.breakGlassShares ?? []),
    ]) {
      share.zero();
    }
  }
}
