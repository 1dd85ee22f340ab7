/**
 * The shape of the Coffer client library: what `CofferClient` offers its callers (the CLI, the
 * tests, later the agent). One method per gRPC method of proto/coffer/v1/*.proto; each is one
 * request to the server's core router and answers with the router's response, decoded.
 *
 * Data that the wire carries as JSON text (`data_json`) is an object here. Secret inputs
 * (shares, tokens, secret_ids, values) are passed in messages and metadata only, never logged.
 */

/** A lease on a secret or a token. */
export interface ClientLease {
  readonly leaseId: string;
  readonly ttlSeconds: number;
  readonly renewable: boolean;
}

/** A token that a login or token-create issued; `clientToken` is secret. */
export interface ClientAuth {
  readonly clientToken: string;
  readonly accessor: string;
  readonly policies: readonly string[];
  readonly tokenPolicies: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly leaseDurationSeconds: number;
  readonly renewable: boolean;
  readonly orphan: boolean;
  readonly tokenType: string;
  readonly numUses: number;
}

/** A wrapped response's single-use token; `token` is secret. */
export interface ClientWrapInfo {
  readonly token: string;
  readonly accessor: string;
  readonly ttlSeconds: number;
  readonly creationTime: string;
  readonly creationPath: string;
}

/**
 * How fresh a read must be: `linearizable` (the server's default) or `stale`, which lets a read
 * or list of secrets be served from a node's applied state when no leader answers (a partition,
 * an election), so it may miss recent writes and revocations. The server refuses `stale` on
 * anything else (COFFER_CORE_STALE_READ_REFUSED).
 */
export type ReadConsistency = 'linearizable' | 'stale';

/** Where a stale read was served from: the Raft index the node had applied. */
export interface ClientStaleRead {
  readonly appliedIndex: number;
}

/** The router's answer to one request. */
export interface CofferResponse {
  readonly requestId: string;
  /** The response data (an empty object when the response has none). */
  readonly data: Readonly<Record<string, unknown>>;
  readonly lease: ClientLease | undefined;
  readonly auth: ClientAuth | undefined;
  readonly wrapInfo: ClientWrapInfo | undefined;
  readonly warnings: readonly string[];
  /** Present when the answer came from possibly stale state (its warnings say so too). */
  readonly staleRead?: ClientStaleRead;
}

/** Per-call options. */
export interface CallOptions {
  /** Overrides the client's token for this call. */
  readonly token?: string;
  /** Wrap the response in a single-use token with this TTL. */
  readonly wrapTtlSeconds?: number;
  /** Overrides the client's deadline for this call. */
  readonly deadlineMs?: number;
  /**
   * The id of this logical request (`coffer-request-id`): 1 to 128 of `[A-Za-z0-9._-]`. Absent:
   * the client draws one (crypto.randomUUID). Either way a call sends the same id on every
   * node it tries, so the cluster applies a retried write once (docs/design/cluster.md §5).
   */
  readonly requestId?: string;
  /**
   * `stale` allows this read or list to be answered from a node's applied state when no
   * leader answers (`coffer-consistency`); overrides the client's `readConsistency`.
   */
  readonly consistency?: ReadConsistency;
}

/**
 * How to reach a server or a cluster: give `address` (one node) or `addresses` (every node of a
 * cluster), not both.
 *
 * With two or more addresses a call that finds its node down (gRPC UNAVAILABLE without a Coffer
 * code: refused, reset, TLS failure) or answered COFFER_CORE_NOT_ACTIVE, COFFER_CORE_NOT_READY,
 * COFFER_CORE_REMOVED or COFFER_CORE_NO_LEADER (a node cut off from the quorum) is sent again, with the same request id, to the next address in the list (round robin), after
 * a jittered backoff of 25-50 ms doubling up to 0.5-1 s, until the call's deadline; then it
 * rejects with the last failure. Every other refusal (permission, bad input, rate limit, sealed,
 * a deadline) rejects at once. Every try runs under the call's one deadline. The client starts
 * each call at the address that last answered. With one address a call is tried once.
 * NB: lifecycle calls that concern one node (init, unseal, seal status) go to whichever node
 * the client uses; give such calls a client with that node's `address` alone.
 */
export interface CofferClientOptions {
  /**
   * `host:port` of one node's gRPC listener, e.g. `127.0.0.1:8200` (an https:// prefix is
   * accepted); the same as `addresses: [address]`.
   */
  readonly address?: string;
  /** Every node's `host:port` (or https://host:port), at least one, each once. */
  readonly addresses?: readonly string[];
  /** PEM of the CA that signed the server's certificate. */
  readonly caCert: string | Uint8Array;
  /** The token sent in `coffer-token` metadata with every call (absent: none). */
  readonly token?: string;
  /** The name to verify in the server certificate when it differs from the address host. */
  readonly serverName?: string;
  /** Deadline of each call; default 30 s. */
  readonly deadlineMs?: number;
  /**
   * The consistency of reads that do not name one: with `stale`, the reads and lists of
   * secrets (`logical.read`/`list` outside `sys/`, `auth/` and `cubbyhole/` and unwrapped,
   * `kv.get`, `kv.list`, `kv.readMetadata`) ask for it; every other call is sent without it.
   * Default `linearizable`.
   */
  readonly readConsistency?: ReadConsistency;
}

/** KV v2 engine calls; `mount` defaults to `secret`. */
export interface KvTarget {
  readonly mount?: string;
  readonly path: string;
}

/** The methods of the System service. */
export interface SystemApi {
  init(request: {
    readonly secretShares?: number;
    readonly secretThreshold?: number;
    readonly generateHsmKey?: boolean;
    readonly breakGlassShares?: number;
    readonly breakGlassThreshold?: number;
  }): Promise<CofferResponse>;
  unseal(request: {
    readonly key?: string;
    readonly reset?: boolean;
    readonly breakGlass?: boolean;
    readonly migrate?: boolean;
  }): Promise<CofferResponse>;
  sealStatus(): Promise<CofferResponse>;
  health(): Promise<CofferResponse>;
  seal(options?: CallOptions): Promise<CofferResponse>;
  stepDown(options?: CallOptions): Promise<CofferResponse>;
  rekeyInit(request: {
    readonly secretShares: number;
    readonly secretThreshold: number;
  }): Promise<CofferResponse>;
  rekeyUpdate(request: { readonly key: string; readonly nonce: string }): Promise<CofferResponse>;
  rekeyStatus(): Promise<CofferResponse>;
  rekeyCancel(): Promise<CofferResponse>;
  rotate(options?: CallOptions): Promise<CofferResponse>;
  keyStatus(options?: CallOptions): Promise<CofferResponse>;
  generateRootInit(request: { readonly otp: string }): Promise<CofferResponse>;
  generateRootUpdate(request: {
    readonly key: string;
    readonly nonce: string;
  }): Promise<CofferResponse>;
  generateRootStatus(): Promise<CofferResponse>;
  generateRootCancel(): Promise<CofferResponse>;
}

/** The methods of the Auth service. */
export interface AuthApi {
  appRoleLogin(request: {
    readonly mount?: string;
    readonly roleId: string;
    readonly secretId: string;
  }): Promise<CofferResponse>;
  tokenCreate(
    request: {
      readonly policies?: readonly string[];
      readonly ttl?: string;
      readonly explicitMaxTtl?: string;
      readonly period?: string;
      readonly noParent?: boolean;
      readonly noDefaultPolicy?: boolean;
      readonly numUses?: number;
      readonly renewable?: boolean;
      readonly displayName?: string;
      readonly metadata?: Readonly<Record<string, string>>;
    },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  /** Looks up `token`, or the caller's own token when it is absent. */
  tokenLookup(
    request?: { readonly token?: string },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  tokenRenew(
    request?: { readonly token?: string; readonly increment?: string },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  tokenRevoke(
    request?: { readonly token?: string },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  tokenRevokeAccessor(
    request: { readonly accessor: string },
    options?: CallOptions,
  ): Promise<CofferResponse>;
}

/** The methods of the Kv service. */
export interface KvApi {
  get(
    target: KvTarget & { readonly version?: number },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  put(
    target: KvTarget & { readonly data: Readonly<Record<string, unknown>>; readonly cas?: number },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  patch(
    target: KvTarget & { readonly data: Readonly<Record<string, unknown>>; readonly cas?: number },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  delete(
    target: KvTarget & { readonly versions?: readonly number[] },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  undelete(
    target: KvTarget & { readonly versions: readonly number[] },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  destroy(
    target: KvTarget & { readonly versions: readonly number[] },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  list(target: KvTarget, options?: CallOptions): Promise<CofferResponse>;
  readMetadata(target: KvTarget, options?: CallOptions): Promise<CofferResponse>;
  writeMetadata(
    target: KvTarget & {
      readonly maxVersions?: number;
      readonly casRequired?: boolean;
      readonly deleteVersionAfter?: string;
      readonly customMetadata?: Readonly<Record<string, string>>;
    },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  deleteMetadata(target: KvTarget, options?: CallOptions): Promise<CofferResponse>;
}

/** The methods of the Policies service. */
export interface PoliciesApi {
  write(
    request: { readonly name: string; readonly policy: string },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  read(request: { readonly name: string }, options?: CallOptions): Promise<CofferResponse>;
  list(options?: CallOptions): Promise<CofferResponse>;
  delete(request: { readonly name: string }, options?: CallOptions): Promise<CofferResponse>;
}

/** The methods of the Leases service. */
export interface LeasesApi {
  lookup(request: { readonly leaseId: string }, options?: CallOptions): Promise<CofferResponse>;
  renew(
    request: { readonly leaseId: string; readonly increment?: string },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  revoke(request: { readonly leaseId: string }, options?: CallOptions): Promise<CofferResponse>;
  revokePrefix(
    request: { readonly prefix: string },
    options?: CallOptions,
  ): Promise<CofferResponse>;
}

/** The methods of the Audit service. */
export interface AuditApi {
  enable(
    request: {
      readonly path: string;
      readonly type: string;
      readonly description?: string;
      readonly options?: Readonly<Record<string, string>>;
    },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  disable(request: { readonly path: string }, options?: CallOptions): Promise<CofferResponse>;
  list(options?: CallOptions): Promise<CofferResponse>;
  hash(
    request: { readonly path: string; readonly input: string },
    options?: CallOptions,
  ): Promise<CofferResponse>;
}

/** What enabling a secrets engine or an auth method takes. */
export interface MountEnable {
  readonly path: string;
  readonly type: string;
  readonly description?: string;
  readonly defaultLeaseTtl?: string;
  readonly maxLeaseTtl?: string;
  readonly options?: Readonly<Record<string, string>>;
}

/** The methods of the Mounts service. */
export interface MountsApi {
  enableSecrets(request: MountEnable, options?: CallOptions): Promise<CofferResponse>;
  disableSecrets(
    request: { readonly path: string },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  listSecrets(options?: CallOptions): Promise<CofferResponse>;
  tune(
    request: {
      readonly path: string;
      readonly defaultLeaseTtl?: string;
      readonly maxLeaseTtl?: string;
      readonly description?: string;
    },
    options?: CallOptions,
  ): Promise<CofferResponse>;
  readTune(request: { readonly path: string }, options?: CallOptions): Promise<CofferResponse>;
  enableAuth(request: MountEnable, options?: CallOptions): Promise<CofferResponse>;
  disableAuth(request: { readonly path: string }, options?: CallOptions): Promise<CofferResponse>;
  listAuth(options?: CallOptions): Promise<CofferResponse>;
}

/** The methods of the Logical service: any router path. */
export interface LogicalApi {
  read(path: string, options?: CallOptions): Promise<CofferResponse>;
  write(
    path: string,
    data: Readonly<Record<string, unknown>>,
    options?: CallOptions,
  ): Promise<CofferResponse>;
  list(path: string, options?: CallOptions): Promise<CofferResponse>;
  delete(path: string, options?: CallOptions): Promise<CofferResponse>;
  patch(
    path: string,
    data: Readonly<Record<string, unknown>>,
    options?: CallOptions,
  ): Promise<CofferResponse>;
}
