/**
 * TokenConnection: the way from a config to a logged-in PKCS#11 session. Load the library,
 * C_Initialize, find the slot (by token label at every connect, since slot ids can change when
 * tokens come and go), open a session, read the PIN file and log in.
 *
 *   disconnected ──connect()──▶ connected ──disconnect() / device error──▶ disconnected
 *        ▲                                                                     │
 *        └────────────── failed connect: library finalized, rescan next time ◀─┘
 *
 * Every failure becomes a reason code and a non-secret detail, never an exception, so a node
 * whose HSM is away stays sealed and says why.
 *
 * Invariant: a PIN that C_Login refused is not tried again until the PIN file's content
 * changes, so retries with backoff can never lock the token's user PIN. Only a keyed digest of
 * the refused PIN is kept, under a random per-process key.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';

import type { SecretKey } from '../barrier/secret_key.ts';
import { CoreError } from '../errors.ts';
import {
  ckrName,
  finalizeLibrary,
  initializeLibrary,
  openLibrary,
  type LoadedLibrary,
  type Pkcs11,
  type Pkcs11Handle,
  type Pkcs11Module,
} from './pkcs11_adapter.ts';
import type { ResolvedPkcs11Config } from './pkcs11_config.ts';
import { reasonFor } from './pkcs11_errors.ts';
import { readPinFile } from './pin_file.ts';
import { SealUnavailableReason } from './seal_provider.ts';

/** The outcome of a connect, or of any step of one. */
export type TokenOutcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: SealUnavailableReason; readonly detail: string };

/** What an operation on the token needs: the module's constants, the library and a session. */
export interface TokenContext {
  readonly module: Pkcs11Module;
  readonly pkcs11: Pkcs11;
  readonly session: Pkcs11Handle;
}

function fail<T>(reason: SealUnavailableReason, detail: string): TokenOutcome<T> {
  return { ok: false, reason, detail };
}

function failFrom<T>(step: string, error: unknown): TokenOutcome<T> {
  const name = ckrName(error);
  return fail(reasonFor(name), `${step} failed with ${name ?? 'a non-PKCS#11 error'}`);
}

/** A slot handle as a number, for messages and for matching a configured slot id. */
function slotNumber(slot: Pkcs11Handle): bigint {
  return slot.byteLength >= 8 ? slot.readBigUInt64LE(0) : BigInt(slot.readUInt32LE(0));
}

/** One logged-in session on the configured token, reopened on demand. */
export class TokenConnection {
  readonly #config: ResolvedPkcs11Config;
  readonly #pinDigestKey = randomBytes(32);
  #library: LoadedLibrary | undefined;
  #context: TokenContext | undefined;
  #refusedPinDigest: Buffer | undefined;

  constructor(config: ResolvedPkcs11Config) {
    this.#config = config;
  }

  /** The live context, or undefined when not connected. */
  get context(): TokenContext | undefined {
    return this.#context;
  }

  /** Connects if needed. Never throws for HSM trouble: the outcome says what went wrong. */
  async connect(): Promise<TokenOutcome<TokenContext>> {
    if (this.#context !== undefined) {
      return { ok: true, value: this.#context };
    }
    const outcome = await this.#connectNow();
    if (outcome.ok) {
      this.#context = outcome.value;
    } else {
      this.disconnect();
    }
    return outcome;
  }

  /**
   * Closes the session and finalizes the library, so the next connect rescans slots. Safe to
   * call at any time.
   */
  disconnect(): void {
    const context = this.#context;
    this.#context = undefined;
    if (context !== undefined) {
      try {
        context.pkcs11.C_CloseSession(context.session);
      } catch {
        // The session is already gone with the device; finalizing below releases the rest.
      }
    }
    if (this.#library !== undefined) {
      finalizeLibrary(this.#library);
    }
  }

  async #connectNow(): Promise<TokenOutcome<TokenContext>> {
    const library = await this.#loadLibrary();
    if (!library.ok) {
      return library;
    }
    const { module, pkcs11 } = library.value;
    const slot = this.#findSlot(library.value);
    if (!slot.ok) {
      return slot;
    }
    let session: Pkcs11Handle;
    try {
      session = pkcs11.C_OpenSession(slot.value, module.CKF_SERIAL_SESSION | module.CKF_RW_SESSION);
    } catch (error) {
      return failFrom('C_OpenSession', error);
    }
    const context: TokenContext = { module, pkcs11, session };
    const login = await this.#login(context);
    return login.ok ? { ok: true, value: context } : login;
  }

  async #loadLibrary(): Promise<TokenOutcome<LoadedLibrary>> {
    const path = this.#config.libraryPath;
    if (!existsSync(path)) {
      return fail(SealUnavailableReason.libraryMissing, `No PKCS#11 library at "${path}"`);
    }
    try {
      this.#library ??= await openLibrary(path);
    } catch (error) {
      const detail = error instanceof Error ? error.message.slice(0, 200) : 'unknown error';
      return fail(SealUnavailableReason.libraryMissing, `Cannot load "${path}": ${detail}`);
    }
    try {
      initializeLibrary(this.#library);
    } catch (error) {
      const name = ckrName(error) ?? 'a non-PKCS#11 error';
      return fail(SealUnavailableReason.libraryFailed, `C_Initialize failed with ${name}`);
    }
    return { ok: true, value: this.#library };
  }

  #findSlot(library: LoadedLibrary): TokenOutcome<Pkcs11Handle> {
    const { module, pkcs11 } = library;
    const token = this.#config.token;
    let matches: Pkcs11Handle[];
    try {
      matches = pkcs11
        .C_GetSlotList(true)
        .filter((slot) =>
          'label' in token
            ? pkcs11.C_GetTokenInfo(slot).label.trimEnd() === token.label
            : slotNumber(slot) === BigInt(token.slotId),
        );
    } catch (error) {
      return failFrom('C_GetSlotList', error);
    }
    const wanted = 'label' in token ? `token "${token.label}"` : `slot ${token.slotId}`;
    const slot = matches[0];
    if (slot === undefined) {
      return fail(SealUnavailableReason.tokenAbsent, `No ${wanted} is present`);
    }
    if (matches.length > 1) {
      return fail(SealUnavailableReason.tokenAmbiguous, `${matches.length} tokens match ${wanted}`);
    }
    let flags: number;
    try {
      flags = pkcs11.C_GetTokenInfo(slot).flags;
    } catch (error) {
      return failFrom('C_GetTokenInfo', error);
    }
    if ((flags & module.CKF_USER_PIN_LOCKED) !== 0) {
      return fail(SealUnavailableReason.pinLocked, `The user PIN of ${wanted} is locked`);
    }
    return { ok: true, value: slot };
  }

  #pinDigest(pin: SecretKey): Buffer {
    return createHmac('sha256', this.#pinDigestKey).update(pin.reveal()).digest();
  }

  async #login(context: TokenContext): Promise<TokenOutcome<TokenContext>> {
    let pin: SecretKey;
    try {
      pin = await readPinFile(this.#config.pinFile);
    } catch (error) {
      const detail = error instanceof CoreError ? error.message : 'Cannot read the PIN file';
      return fail(SealUnavailableReason.pinFileInvalid, detail);
    }
    try {
      const digest = this.#pinDigest(pin);
      const refused = this.#refusedPinDigest;
      if (refused !== undefined && timingSafeEqual(refused, digest)) {
        const detail = 'C_Login refused this PIN before; not retried until the PIN file changes';
        return fail(SealUnavailableReason.pinIncorrect, detail);
      }
      return this.#loginWith(context, pin, digest);
    } finally {
      pin.zero();
    }
  }

  #loginWith(context: TokenContext, pin: SecretKey, digest: Buffer): TokenOutcome<TokenContext> {
    const { module, pkcs11, session } = context;
    try {
      // NB: pkcs11js takes the PIN as a JS string, which cannot be zeroed; it lives only for
      // this call (docs/design/seal.md, "Memory").
      pkcs11.C_Login(session, module.CKU_USER, pin.reveal().toString('utf8'));
    } catch (error) {
      const name = ckrName(error);
      if (name !== 'CKR_USER_ALREADY_LOGGED_IN') {
        if (reasonFor(name) === SealUnavailableReason.pinIncorrect) {
          this.#refusedPinDigest = digest;
        }
        return failFrom('C_Login', error);
      }
    }
    this.#refusedPinDigest = undefined;
    return { ok: true, value: context };
  }
}
