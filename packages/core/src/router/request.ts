/**
 * The logical request and response of the one request router (PRODUCT.md, "Shape of the code").
 * gRPC, GraphQL and HTTP adapters build a CoreRequest and send back a CoreResponse, so a policy
 * on a path governs every API alike. Adapters URL-decode a path once; the router validates it
 * (request_path.ts) and never decodes again.
 */
import type { CoreErrorCode } from '../errors.ts';

/** What a request does to its path: Vault's logical operations. */
export const Operation = {
  /** Writes a path that does not exist yet (the router tells create from update). */
  create: 'create',
  read: 'read',
  /** Writes a path that exists (adapters send `update` for every write; see Route.exists). */
  update: 'update',
  patch: 'patch',
  delete: 'delete',
  list: 'list',
} as const;
/** Union of {@link Operation} values. */
export type Operation = (typeof Operation)[keyof typeof Operation];

/**
 * How fresh a read must be. `linearizable` (the default) reads after a ReadIndex round, so it
 * sees every write acknowledged before it; `stale` lets a secret read fall back to the node's
 * applied state when no leader answers that round (stale_read.ts, docs/design/cluster.md §6).
 */
export const Consistency = {
  linearizable: 'linearizable',
  stale: 'stale',
} as const;
/** Union of {@link Consistency} values. */
export type Consistency = (typeof Consistency)[keyof typeof Consistency];

/** A request body: JSON-like fields by name. */
export type RequestData = Readonly<Record<string, unknown>>;

/** One request to the router. */
export interface CoreRequest {
  readonly operation: Operation;
  /** The path below the API root, e.g. `secret/data/app/db`; URL-decoded once by the adapter. */
  readonly path: string;
  readonly data?: RequestData;
  /** The caller's token, absent for unauthenticated paths (login, status). */
  readonly token?: string;
  /** The caller's address as the listener saw it (IPv4 or IPv6 literal). */
  readonly clientAddress?: string;
  /** The adapter's request id; the router makes one when absent. */
  readonly requestId?: string;
  /** Wrap the response in a single-use wrapping token with this TTL (Vault's X-Vault-Wrap-TTL). */
  readonly wrapTtlSeconds?: number;
  /**
   * `stale` allows a read or list of secrets (outside `sys/`, `auth/` and `cubbyhole/`, without
   * wrapping) to be served from this node's applied state when no leader answers; any other
   * request carrying it is refused COFFER_CORE_STALE_READ_REFUSED. Absent: linearizable.
   */
  readonly consistency?: Consistency;
}

/**
 * Set on a response served without a read point (a stale read): the Raft index the node had
 * applied, so the caller can tell how far it may lag.
 */
export interface StaleRead {
  readonly appliedIndex: number;
}

/** The lease of a secret in a response. */
export interface LeaseInfo {
  readonly leaseId: string;
  readonly ttlSeconds: number;
  readonly renewable: boolean;
}

/** The token a login or token-create response hands out (Vault's `auth` block). */
export interface AuthInfo {
  readonly clientToken: string;
  readonly accessor: string;
  readonly policies: readonly string[];
  readonly tokenPolicies: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly leaseDurationSeconds: number;
  readonly renewable: boolean;
  readonly orphan: boolean;
  readonly tokenType: 'service';
  readonly numUses: number;
}

/** What a wrapped response carries instead of its data (Vault's `wrap_info`). */
export interface WrapInfo {
  readonly token: string;
  readonly accessor: string;
  readonly ttlSeconds: number;
  /** RFC 3339. */
  readonly creationTime: string;
  readonly creationPath: string;
}

/** A served request. */
export interface CoreSuccess {
  readonly ok: true;
  readonly requestId: string;
  /** The mount the path resolved to (adapters use it as a metrics label; never sent on). */
  readonly mountPath?: string;
  readonly data?: Readonly<Record<string, unknown>>;
  readonly lease?: LeaseInfo;
  readonly auth?: AuthInfo;
  readonly wrapInfo?: WrapInfo;
  readonly warnings?: readonly string[];
  /** Present when the request was served from possibly stale state (its warnings say so too). */
  readonly staleRead?: StaleRead;
}

/** A refused or failed request: a stable code and a message that names the action to take. */
export interface CoreFailure {
  readonly ok: false;
  readonly requestId: string;
  /** The mount the path resolved to (adapters use it as a metrics label; never sent on). */
  readonly mountPath?: string;
  readonly code: CoreErrorCode;
  readonly message: string;
  /** Set with COFFER_CORE_RATE_LIMITED: when to try again. */
  readonly retryAfterMs?: number;
  /** Present when the refusal came from possibly stale state (a NOT_FOUND may be out of date). */
  readonly staleRead?: StaleRead;
}

/** The router's answer; adapters map `code` to their status (HTTP 403, gRPC PERMISSION_DENIED). */
export type CoreResponse = CoreSuccess | CoreFailure;
