/**
 * CofferClient: the TypeScript client of a Coffer server's gRPC API, used by the CLI, the tests
 * and later the agent. Each method is one unary call and one request to the server's router.
 *
 * ```ts
 * const client = new CofferClient({ address: '127.0.0.1:8200', caCert, token });
 * await client.kv.put({ path: 'app/db', data: { password } });
 * client.close();
 *
 * // A cluster: every node's address; a call moves on when its node is down (failover.ts).
 * const cluster = new CofferClient({
 *   addresses: ['10.0.0.1:8200', '10.0.0.2:8200', '10.0.0.3:8200'],
 *   caCert,
 *   token,
 * });
 * ```
 */
import { inspect } from 'node:util';

import { createAuditApi } from './audit_api.ts';
import { createAuthApi } from './auth_api.ts';
import type {
  AuditApi,
  AuthApi,
  CofferClientOptions,
  KvApi,
  LeasesApi,
  LogicalApi,
  MountsApi,
  PoliciesApi,
  SystemApi,
} from './client_api.ts';
import { ClientConnection } from './client_connection.ts';
import { createKvApi } from './kv_api.ts';
import { createLeasesApi } from './leases_api.ts';
import { createLogicalApi } from './logical_api.ts';
import { createMountsApi } from './mounts_api.ts';
import { createPoliciesApi } from './policies_api.ts';
import { createSystemApi } from './system_api.ts';
import { callDeadlineMsDefault, UnaryCaller } from './unary_caller.ts';

/** Any API object: methods that answer with a promise. */
type PromiseApi = object;

/**
 * Returns `api` with each method rejecting instead of throwing synchronously (bad data, a bad
 * token), so every method of the client fails the same way: with a rejected promise.
 */
function rejectingApi<T extends PromiseApi>(api: T): T {
  const entries = Object.entries(api).map(([name, method]: [string, unknown]) => {
    const fn = method as (...args: unknown[]) => Promise<unknown>;
    const guarded = (...args: unknown[]): Promise<unknown> => {
      try {
        return fn(...args);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    return [name, guarded] as const;
  });
  return Object.freeze(Object.fromEntries(entries)) as T;
}

/**
 * A client of one Coffer server or of every node of a cluster. Construction checks the addresses
 * and the CA certificate (throwing a CofferClientError) and opens each address's TLS channel
 * lazily, on the first call that goes there. Each call carries one request id on every node it
 * tries; see {@link CofferClientOptions} for which failures move it to the next node.
 *
 * Invariant: the token lives only in #private state; `JSON.stringify` and `util.inspect` of a
 * client never show it (STYLE.md 4.5).
 */
export class CofferClient {
  /** System: init, unseal, seal status, health, seal, step-down, rekey, rotate, generate-root. */
  readonly sys: SystemApi;
  /** Auth: AppRole login and the token methods. */
  readonly auth: AuthApi;
  /** Kv: the KV v2 engine (mount `secret` unless a call names another). */
  readonly kv: KvApi;
  /** Policies: ACL policies. */
  readonly policies: PoliciesApi;
  /** Leases: lookup, renew, revoke. */
  readonly leases: LeasesApi;
  /** Audit: audit devices. */
  readonly audit: AuditApi;
  /** Mounts: secrets engines and auth methods. */
  readonly mounts: MountsApi;
  /** Logical: read, write, list, delete and patch on any router path. */
  readonly logical: LogicalApi;
  readonly #connection: ClientConnection;
  readonly #options: CofferClientOptions;

  /**
   * A client for `options.address` or `options.addresses`. NB: `connection` is for
   * {@link withToken} and this package's tests only; callers pass one argument.
   */
  constructor(options: CofferClientOptions, connection?: ClientConnection) {
    this.#connection = connection ?? new ClientConnection(options);
    this.#options = options;
    const caller = new UnaryCaller(this.#connection, {
      deadlineMs: options.deadlineMs ?? callDeadlineMsDefault,
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(options.readConsistency === undefined
        ? {}
        : { readConsistency: options.readConsistency }),
    });
    this.sys = rejectingApi(createSystemApi(caller));
    this.auth = rejectingApi(createAuthApi(caller));
    this.kv = rejectingApi(createKvApi(caller));
    this.policies = rejectingApi(createPoliciesApi(caller));
    this.leases = rejectingApi(createLeasesApi(caller));
    this.audit = rejectingApi(createAuditApi(caller));
    this.mounts = rejectingApi(createMountsApi(caller));
    this.logical = rejectingApi(createLogicalApi(caller));
  }

  /** The address the next call starts at (the one that answered last), as given. */
  get address(): string {
    return this.#connection.preferredAddress;
  }

  /** Every address this client calls, as given, in order. */
  get addresses(): readonly string[] {
    return this.#connection.addresses;
  }

  /**
   * A client on the same channel that sends `token` instead (e.g. right after a login).
   * Closing either closes the channel of both.
   */
  withToken(token: string): CofferClient {
    return new CofferClient({ ...this.#options, token }, this.#connection);
  }

  /** Closes every channel; later calls reject with COFFER_CLIENT_CLOSED. Idempotent. */
  close(): void {
    this.#connection.close();
  }

  /** NB: a custom inspect, so a debugging print shows the addresses and nothing secret. */
  [inspect.custom](): string {
    const addresses = this.addresses;
    return addresses.length === 1
      ? `CofferClient { address: ${JSON.stringify(this.address)} }`
      : `CofferClient { addresses: ${JSON.stringify(addresses)} }`;
  }
}
