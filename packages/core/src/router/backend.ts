/**
 * The contract between the router and what it routes to: secrets engines, auth methods and the
 * core's own `sys/` and `auth/token/` endpoints. A Backend is a list of Routes; a Route is a
 * path pattern, its typed fields and a handler per operation (Vault's framework.Path, smaller).
 *
 * The router has already done the security work when a handler runs: the path is valid, the
 * caller's token and policies allow the operation (or the route is unauthenticated), the fields
 * parsed against their specs (unknown fields and wrong types refused), the request audited.
 * Handlers throw CoreError for refusals (COFFER_CORE_INVALID_REQUEST, _NOT_FOUND, ...); the router
 * turns it into a CoreFailure. A handler never puts a secret in an error message.
 */
import type { FieldSpec, FieldValues } from './fields.ts';
import type { AuthInfo, Operation, RequestData } from './request.ts';
import type { StorageView } from './storage_view.ts';

/** The mount a request reached. */
export interface MountInfo {
  /** The mount path with a trailing slash, e.g. `secret/` or `auth/approle/`. */
  readonly path: string;
  /** The engine or method type, e.g. `kv`, `approle`. */
  readonly type: string;
  /** A random, stable identifier of this mount (its storage prefix is derived from it). */
  readonly uuid: string;
  /** A public, stable name for the mount in audit lines and metrics. */
  readonly accessor: string;
  /** Default lease TTL in seconds (the mount's tune, else the system default). */
  readonly defaultLeaseTtlSeconds: number;
  /** Maximum lease TTL in seconds (the mount's tune, else the system maximum). */
  readonly maxLeaseTtlSeconds: number;
  /** Engine options given at enable (e.g. `{ version: '2' }` for kv). */
  readonly options: Readonly<Record<string, string>>;
}

/** Who is calling: the token the router validated. Undefined on unauthenticated routes. */
export interface CallerInfo {
  /** The token's accessor (public; safe to log). */
  readonly accessor: string;
  readonly policies: readonly string[];
  readonly displayName: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** True for a token with the root policy. */
  readonly root: boolean;
  /** When the token expires (ms since the epoch); absent or 0: never. */
  readonly expireMs?: number;
}

/** What a handler receives. */
export interface BackendRequest {
  readonly operation: Operation;
  /** The path relative to the mount, without leading or trailing slash. */
  readonly path: string;
  /** The values of the route pattern's `:name` and `*name` parts. */
  readonly params: Readonly<Record<string, string>>;
  /** The request's fields, parsed against the route's specs (defaults applied). */
  readonly fields: FieldValues;
  /** The raw request body (already checked: only declared fields). */
  readonly data: RequestData;
  /** The mount's own storage (its random prefix). */
  readonly storage: StorageView;
  readonly mount: MountInfo;
  readonly caller: CallerInfo | undefined;
  /**
   * The caller holds `sudo` on this path (a root token always does): handlers that give more
   * than the caller has (orphan or periodic tokens) check it. Absent means no.
   */
  readonly sudo?: boolean;
  readonly clientAddress: string | undefined;
  readonly requestId: string;
  /** The request's instant (ms since the epoch), fixed on the active node when it arrived. */
  readonly nowMs: number;
}

/** A secret with a lease: the router registers the lease and answers with its id and TTL. */
export interface SecretLease {
  /** Seconds; 0 or absent means the mount's default. Capped at the mount's maximum. */
  readonly ttlSeconds?: number;
  readonly renewable: boolean;
  /** What the backend needs to revoke or renew it; stored encrypted, never returned or logged. */
  readonly internal: Readonly<Record<string, unknown>>;
}

/** What a login asks the router to issue (Vault's logical.Auth). */
export interface LoginAuth {
  readonly policies: readonly string[];
  readonly displayName: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Token TTL in seconds; 0 means the mount's default. */
  readonly ttlSeconds: number;
  /** Token max TTL in seconds; 0 means the mount's maximum. */
  readonly maxTtlSeconds: number;
  /** A periodic token's period in seconds (renewable forever, each renewal up to one period). */
  readonly periodSeconds?: number;
  /** Uses of the token; 0 means unlimited. */
  readonly numUses: number;
  readonly renewable: boolean;
  /** CIDRs the token may be used from; empty means anywhere. */
  readonly boundCidrs?: readonly string[];
  /** Login state the method needs on renewal (role name); never returned. */
  readonly internal?: Readonly<Record<string, unknown>>;
}

/** What a handler answers. */
export interface BackendResponse {
  readonly data?: Readonly<Record<string, unknown>>;
  readonly secret?: SecretLease;
  readonly auth?: LoginAuth;
  /**
   * A token the backend issued itself (the token store's create endpoints): answered as the
   * response's `auth` as it is. The only place its id exists in clear.
   */
  readonly issued?: AuthInfo;
  readonly warnings?: readonly string[];
}

/** A handler of one operation on one route. */
export type Handler = (request: BackendRequest) => Promise<BackendResponse>;

/** One path of a backend. */
export interface Route {
  /**
   * The path relative to the mount: literal segments, `:name` for exactly one segment, and
   * `*name` (last) for one or more segments. `data/*path` matches `data/a/b`.
   */
  readonly pattern: string;
  readonly fields?: Readonly<Record<string, FieldSpec>>;
  readonly operations: Partial<Readonly<Record<Operation, Handler>>>;
  /**
   * Tells a create from an update: true when the target exists. Without it every write is an
   * `update` (Vault's ExistenceCheck). The router asks it before the policy check, with the
   * route's params and raw data (fields are parsed only once the policy allowed the request).
   */
  readonly exists?: (request: BackendRequest) => Promise<boolean>;
  /** The route also needs the `sudo` capability (root-protected, Vault's PathsSpecial.Root). */
  readonly sudo?: boolean;
  /** The route answers without a token (logins). */
  readonly unauthenticated?: boolean;
  /**
   * The body is free-form (`sys/wrapping/wrap`): no field parsing, any JSON object is passed
   * as `fields` and `data` alike.
   */
  readonly freeForm?: boolean;
}

/** What a lease's revoke and renew see. */
export interface LeaseContext {
  readonly storage: StorageView;
  readonly mount: MountInfo;
  readonly internal: Readonly<Record<string, unknown>>;
  readonly nowMs: number;
}

/** A secrets engine or auth method instance, one per mount. */
export interface Backend {
  readonly routes: readonly Route[];
  /**
   * False for a backend whose writes must commit one by one, in order, as they happen (`sys/`:
   * membership markers before configuration changes, audit devices, mount tables). Every other
   * backend's writes commit with the request's outcome, so a retried request applies once.
   */
  readonly exactlyOnce?: false;
  /** Revokes a secret this backend issued (drops the database user, ...). Absent: nothing to do. */
  revokeSecret?(lease: LeaseContext): Promise<void>;
  /**
   * Checks that a login's token may still renew (the role still exists, its policies still
   * match). Throws CoreError to refuse. Absent: renewal is allowed.
   */
  renewLogin?(lease: LeaseContext): Promise<void>;
  /** Called when the mount is disabled, before its data is deleted. */
  cleanup?(storage: StorageView): Promise<void>;
}

/** Makes a backend for a new or reopened mount. */
export type BackendFactory = (mount: MountInfo) => Backend;
