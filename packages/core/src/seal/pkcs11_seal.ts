/**
 * Pkcs11Seal: the root key wrapped by a key that never leaves an HSM, reached through PKCS#11.
 * A restart unseals with no human: connect, log in with the PIN from its file, find the key by
 * label, unwrap.
 *
 *   unavailable(reason) ──connect() ok──▶ ready ──device/session error──▶ reconnect once
 *         ▲                                                               │ ok: retry the call
 *         └──────────────────────── still failing ◀───────────────────────┘
 *
 * Trouble never crashes the node: a missing library, an absent token, a refused PIN or a missing
 * key each leave the seal unavailable with a reason code and a detail in `status()`, and
 * `waitForSeal` keeps calling `connect()` with backoff until the operator fixes the cause.
 * After a session or device error (CKR_SESSION_HANDLE_INVALID, CKR_DEVICE_REMOVED,
 * CKR_TOKEN_NOT_PRESENT, ...) the seal drops its session, finalizes the library and reconnects
 * once before answering.
 *
 * Invariant: one Pkcs11Seal per library per process (the library's state is process-wide, see
 * pkcs11_adapter.ts).
 */
import type { SecretKey } from '../barrier/secret_key.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import { ckrName } from './pkcs11_adapter.ts';
import { decryptOnToken, encryptOnToken, schemeFor } from './pkcs11_cipher.ts';
import {
  resolvePkcs11Config,
  type Pkcs11SealConfig,
  type ResolvedPkcs11Config,
} from './pkcs11_config.ts';
import { isNotAuthentic, isReconnectable, reasonFor } from './pkcs11_errors.ts';
import { findTokenKey, generateTokenKey, type TokenKey } from './pkcs11_key.ts';
import { TokenConnection, type TokenContext } from './pkcs11_token.ts';
import { retryWithBackoff, type BackoffOptions } from './backoff.ts';
import { associatedData, WrapPurpose } from './seal_binding.ts';
import {
  silentSealLogger,
  SealUnavailableReason,
  type SealBinding,
  type SealLogger,
  type SealProvider,
  type SealStatus,
} from './seal_provider.ts';
import {
  decodeWrappedKey,
  encodeWrappedKey,
  wrappedKeyHeader,
  WrappedKeyScheme,
} from './wrapped_key.ts';

/** Options for {@link Pkcs11Seal}. */
export interface Pkcs11SealOptions {
  /** Where status changes go. Default: nowhere. */
  readonly logger?: SealLogger;
}

type Unavailable = Extract<SealStatus, { state: 'unavailable' }>;
type TokenOp<T> = (context: TokenContext, key: TokenKey) => T;

const pkcs11Schemes = [
  WrappedKeyScheme.pkcs11AesGcm,
  WrappedKeyScheme.pkcs11RsaOaepSha256,
  WrappedKeyScheme.pkcs11RsaOaepSha1,
];

/** A seal whose key lives in a PKCS#11 token. */
export class Pkcs11Seal implements SealProvider {
  readonly type = 'pkcs11';
  readonly #config: ResolvedPkcs11Config;
  readonly #logger: SealLogger;
  readonly #connection: TokenConnection;
  #key: TokenKey | undefined;
  #status: SealStatus;
  #closed = false;

  /** Validates `config` (throws COFFER_CORE_SEAL_CONFIG_INVALID); does no I/O. */
  constructor(config: Pkcs11SealConfig, options: Pkcs11SealOptions = {}) {
    this.#config = resolvePkcs11Config(config);
    this.#logger = options.logger ?? silentSealLogger;
    this.#connection = new TokenConnection(this.#config);
    this.#status = this.#unavailable(SealUnavailableReason.notConnected, 'Not connected yet');
  }

  status(): SealStatus {
    return this.#status;
  }

  #unavailable(reason: SealUnavailableReason, detail: string): Unavailable {
    return { state: 'unavailable', type: this.type, reason, detail };
  }

  #setStatus(next: SealStatus): void {
    const previous = this.#status;
    this.#status = next;
    const same =
      previous.state === next.state &&
      (previous.state === 'ready' ||
        (next.state === 'unavailable' && previous.reason === next.reason));
    if (same) {
      return;
    }
    if (next.state === 'ready') {
      this.#logger.info('seal_ready', { type: this.type, keyLabel: this.#config.keyLabel });
    } else {
      this.#logger.warn('seal_unavailable', {
        type: this.type,
        reason: next.reason,
        detail: next.detail,
      });
    }
  }

  /**
   * One attempt to reach the token and its key. Never throws for HSM trouble; the returned
   * status says what went wrong.
   */
  async connect(): Promise<SealStatus> {
    if (this.#closed) {
      return this.#status;
    }
    const connected = await this.#connection.connect();
    if (!connected.ok) {
      this.#key = undefined;
      this.#setStatus(this.#unavailable(connected.reason, connected.detail));
      return this.#status;
    }
    let found;
    try {
      found = findTokenKey(connected.value, this.#config);
    } catch (error) {
      return this.#lost(error);
    }
    if (!found.ok) {
      this.#key = undefined;
      this.#setStatus(this.#unavailable(found.reason, found.detail));
      return this.#status;
    }
    this.#key = found.value;
    this.#setStatus({ state: 'ready', type: this.type });
    return this.#status;
  }

  /** Records a failure that dropped the connection and returns the new status. */
  #lost(error: unknown): SealStatus {
    const name = ckrName(error);
    this.#key = undefined;
    this.#connection.disconnect();
    this.#setStatus(
      this.#unavailable(reasonFor(name), `The token failed with ${name ?? 'an error'}`),
    );
    return this.#status;
  }

  #throwUnavailable(): never {
    const status = this.#status;
    const reason =
      status.state === 'unavailable' ? status.reason : SealUnavailableReason.deviceError;
    const detail = status.state === 'unavailable' ? status.detail : '';
    throw new CoreError(
      CoreErrorCode.sealUnavailable,
      `Cannot use the PKCS#11 seal (reason "${reason}"): ${detail}; fix it and the seal retries`,
    );
  }

  /**
   * Generates the wrapping key inside the token (init only, when asked). Throws
   * COFFER_CORE_SEAL_KEY_EXISTS when the label is taken, COFFER_CORE_SEAL_UNAVAILABLE when the
   * token cannot be reached.
   */
  async generateKey(): Promise<void> {
    const status = await this.connect();
    if (status.state === 'ready') {
      throw new CoreError(
        CoreErrorCode.sealKeyExists,
        `Cannot generate key "${this.#config.keyLabel}": the token already holds a key with that label`,
      );
    }
    if (status.reason !== SealUnavailableReason.keyMissing) {
      this.#throwUnavailable();
    }
    try {
      this.#key = generateTokenKey(this.#requireContext(), this.#config);
    } catch (error) {
      if (error instanceof CoreError) {
        throw error;
      }
      this.#lost(error);
      this.#throwUnavailable();
    }
    this.#logger.info('seal_key_generated', {
      keyLabel: this.#config.keyLabel,
      mechanism: this.#config.mechanism,
    });
    this.#setStatus({ state: 'ready', type: this.type });
  }

  #requireContext(): TokenContext {
    const context = this.#connection.context;
    if (context === undefined) {
      this.#throwUnavailable();
    }
    return context;
  }

  /**
   * Runs `op` on a ready token. After a reconnectable error it reconnects once and runs `op`
   * again; any other error, or a second failure, goes to `onError`.
   */
  async #withToken<T>(op: TokenOp<T>, onError: (error: unknown) => never): Promise<T> {
    for (let round = 0; round < 2; round += 1) {
      if (this.#closed) {
        this.#throwUnavailable();
      }
      if (this.#key === undefined) {
        await this.connect();
      }
      const key = this.#key;
      const context = this.#connection.context;
      if (key === undefined || context === undefined) {
        this.#throwUnavailable();
      }
      try {
        return op(context, key);
      } catch (error) {
        if (round > 0 || !isReconnectable(ckrName(error))) {
          onError(error);
        }
        this.#logger.warn('seal_reconnecting', { error: ckrName(error) ?? 'unknown' });
        this.#lost(error);
      }
    }
    this.#throwUnavailable();
  }

  async wrapRootKey(rootKey: SecretKey, binding: SealBinding): Promise<Buffer> {
    return this.#withToken(
      (context, key) => {
        const scheme = schemeFor(key, this.#config.oaepHash);
        const aad = associatedData(wrappedKeyHeader(scheme), WrapPurpose.rootKeyPkcs11, binding);
        return encodeWrappedKey(scheme, encryptOnToken(context, key, { rootKey, aad, scheme }));
      },
      (error) => this.#failOperation(error),
    );
  }

  async unwrapRootKey(wrapped: Uint8Array, binding: SealBinding): Promise<SecretKey> {
    const decoded = decodeWrappedKey(wrapped, pkcs11Schemes);
    const aad = associatedData(decoded.header, WrapPurpose.rootKeyPkcs11, binding);
    const rootKey = await this.#withToken(
      (context, key) => {
        if (schemeFor(key, this.#config.oaepHash) !== decoded.scheme) {
          return undefined;
        }
        return decryptOnToken(context, key, { body: decoded.body, aad, scheme: decoded.scheme });
      },
      (error) =>
        isNotAuthentic(ckrName(error)) ? this.#notAuthentic(error) : this.#failOperation(error),
    );
    return rootKey ?? this.#notAuthentic(undefined);
  }

  #notAuthentic(cause: unknown): never {
    throw new CoreError(
      CoreErrorCode.rootKeyUnwrapFailed,
      `Cannot unwrap the root key with HSM key "${this.#config.keyLabel}": another key, another ` +
        'cluster, another mechanism, or tampering',
      { cause },
    );
  }

  #failOperation(error: unknown): never {
    if (error instanceof CoreError) {
      throw error;
    }
    const name = ckrName(error);
    const reason = reasonFor(name);
    this.#setStatus(
      this.#unavailable(reason, `The token refused the operation with ${name ?? 'an error'}`),
    );
    throw new CoreError(
      CoreErrorCode.sealUnavailable,
      `Cannot use the PKCS#11 seal (reason "${reason}"): the token answered ${name ?? 'an error'}`,
      { cause: error },
    );
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#key = undefined;
    this.#connection.disconnect();
    this.#setStatus(this.#unavailable(SealUnavailableReason.closed, 'The seal was closed'));
    return Promise.resolve();
  }
}

/**
 * Calls `seal.connect()` with backoff until the seal is ready. Rejects only when
 * `options.signal` aborts or `options.attemptsMax` runs out.
 */
export async function waitForSeal(seal: Pkcs11Seal, options: BackoffOptions): Promise<void> {
  await retryWithBackoff(async () => {
    const status = await seal.connect();
    return status.state === 'ready' ? { done: true, value: undefined } : { done: false };
  }, options);
}
