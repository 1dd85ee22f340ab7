/**
 * Response wrapping (Vault's cubbyhole response wrapping): a response is stored, encrypted, in
 * the replicated state and the caller gets only a single-use wrapping token with a TTL. Whoever
 * holds the token unwraps it once: the stored response is deleted by a conditional write, so two
 * racing unwraps release it to exactly one caller, and the token is spent.
 *
 * A wrapped response is keyed by its wrapping token's accessor (public, never the token), under
 * the system view `sys/wrapping/`.
 */
import type { BackendRequest, Route } from './backend.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import { FieldType } from './fields.ts';
import type { AuthInfo, LeaseInfo, WrapInfo } from './request.ts';
import type { RouterTokens, ValidToken } from './router_ports.ts';
import { jsonBytes, parseJsonBytes, type StorageView } from './storage_view.ts';

/** The parts of a response that can be wrapped. */
export interface WrappedPayload {
  readonly data?: Readonly<Record<string, unknown>>;
  readonly lease?: LeaseInfo;
  readonly auth?: AuthInfo;
  readonly warnings?: readonly string[];
}

interface StoredWrap {
  readonly payload: WrappedPayload;
  readonly creationTimeMs: number;
  readonly ttlSeconds: number;
  readonly creationPath: string;
}

/** The only policy of a wrapping token. */
const wrappingPolicyName = 'response-wrapping';

/** The longest wrapping TTL: 30 days. */
export const wrapTtlMaxSeconds = 30 * 86400;

function unknownToken(): CoreError {
  return new CoreError(
    CoreErrorCode.permissionDenied,
    'Check the wrapping token: it is not valid (unknown, expired or already unwrapped)',
  );
}

/** Wraps responses and releases them once. */
export class ResponseWrapping<Token extends ValidToken> {
  readonly #storage: StorageView;
  readonly #tokens: RouterTokens<Token>;
  /** `sys/wrapping/unwrap`: the router calls unwrap() for it instead of a handler. */
  readonly unwrapRoute: Route;
  /** `sys/wrapping/wrap`: its response (the data sent) is always wrapped. */
  readonly wrapRoute: Route;
  /** `sys/wrapping/lookup`: creation time, TTL and path of a wrapping token. */
  readonly lookupRoute: Route;

  constructor(options: { readonly storage: StorageView; readonly tokens: RouterTokens<Token> }) {
    this.#storage = options.storage;
    this.#tokens = options.tokens;
    this.unwrapRoute = {
      pattern: 'wrapping/unwrap',
      fields: { token: { type: FieldType.string } },
      operations: {
        update: () => Promise.reject(new Error('unreachable: the router unwraps this route')),
      },
    };
    this.wrapRoute = {
      pattern: 'wrapping/wrap',
      freeForm: true,
      operations: { update: (request) => Promise.resolve({ data: request.data }) },
    };
    this.lookupRoute = {
      pattern: 'wrapping/lookup',
      unauthenticated: true,
      fields: { token: { type: FieldType.string, required: true } },
      operations: { update: (request) => this.#lookup(request) },
    };
  }

  /** The routes to mount under `sys/`. */
  routes(): readonly Route[] {
    return [this.unwrapRoute, this.wrapRoute, this.lookupRoute];
  }

  /** Stores payload under a new single-use wrapping token and returns the token's info. */
  async wrap(
    payload: WrappedPayload,
    options: { readonly ttlSeconds: number; readonly creationPath: string; readonly nowMs: number },
  ): Promise<WrapInfo> {
    if (!Number.isSafeInteger(options.ttlSeconds) || options.ttlSeconds > wrapTtlMaxSeconds) {
      throw new CoreError(
        CoreErrorCode.invalidRequest,
        `Ask for a wrapping TTL of 1 to ${wrapTtlMaxSeconds} seconds`,
      );
    }
    const issued = await this.#tokens.issueWrapping({
      ttlSeconds: options.ttlSeconds,
      creationPath: options.creationPath,
      nowMs: options.nowMs,
    });
    const stored: StoredWrap = {
      payload,
      creationTimeMs: options.nowMs,
      ttlSeconds: options.ttlSeconds,
      creationPath: options.creationPath,
    };
    await this.#storage.write({
      operations: [{ kind: 'put', key: `responses/${issued.accessor}`, value: jsonBytes(stored) }],
    });
    return {
      token: issued.token,
      accessor: issued.accessor,
      ttlSeconds: options.ttlSeconds,
      creationTime: new Date(options.nowMs).toISOString(),
      creationPath: options.creationPath,
    };
  }

  /**
   * Releases a wrapped response once: the wrapping token is the caller's own token (spent by
   * the router) or the `token` field (spent here).
   */
  async unwrap(request: BackendRequest, callerToken: Token | undefined): Promise<WrappedPayload> {
    const given = request.fields['token'];
    let accessor: string | undefined;
    if (typeof given === 'string' && given !== '') {
      const token = await this.#wrappingToken(given, request);
      if (token.numUses > 0 && !(await this.#tokens.consumeUse(token, request.nowMs))) {
        throw unknownToken();
      }
      accessor = this.#tokens.callerOf(token).accessor;
    } else if (callerToken !== undefined && callerToken.policies.includes(wrappingPolicyName)) {
      accessor = request.caller?.accessor;
    }
    if (accessor === undefined) {
      throw unknownToken();
    }
    const key = `responses/${accessor}`;
    const stored = await this.#storage.getVersioned(key);
    if (stored === undefined) {
      throw unknownToken();
    }
    const outcome = await this.#storage.write({
      conditions: [{ kind: 'version', key, version: stored.version }],
      operations: [{ kind: 'delete', key }],
    });
    if (!outcome.ok) {
      throw unknownToken();
    }
    const wrap = parseJsonBytes<StoredWrap>(stored.value);
    if (request.nowMs > wrap.creationTimeMs + wrap.ttlSeconds * 1000) {
      throw unknownToken();
    }
    return wrap.payload;
  }

  /** The live wrapping token `id` names; the one refusal for anything else. */
  async #wrappingToken(id: string, request: BackendRequest): Promise<Token> {
    const token = await this.#tokens.validate(id, {
      nowMs: request.nowMs,
      ...(request.clientAddress === undefined ? {} : { clientAddress: request.clientAddress }),
    });
    if (token === undefined || !token.policies.includes(wrappingPolicyName)) {
      throw unknownToken();
    }
    return token;
  }

  async #lookup(request: BackendRequest): Promise<{ data: Record<string, unknown> }> {
    const token = await this.#wrappingToken(String(request.fields['token']), request);
    const accessor = this.#tokens.callerOf(token).accessor;
    const stored = await this.#storage.get(`responses/${accessor}`);
    if (stored === undefined) {
      throw unknownToken();
    }
    const wrap = parseJsonBytes<StoredWrap>(stored);
    return {
      data: {
        creation_time: new Date(wrap.creationTimeMs).toISOString(),
        creation_ttl: wrap.ttlSeconds,
        creation_path: wrap.creationPath,
      },
    };
  }
}
