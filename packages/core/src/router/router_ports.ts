/**
 * What the router needs of the subsystems around it: the token store, the policies, the audit
 * broker and the lease manager. Narrow on purpose, so the pipeline in router.ts reads as the
 * security argument it is, and each subsystem is tested on its own.
 */
import type { AclRequest } from './acl_request.ts';
import type { CallerInfo, LoginAuth, MountInfo, SecretLease } from './backend.ts';
import type {
  AuthInfo,
  CoreSuccess,
  LeaseInfo,
  RequestData,
  StaleRead,
  WrapInfo,
} from './request.ts';

/** A token the store validated. */
export interface ValidToken {
  /** The token's storage key (a keyed hash of its id; never the id). */
  readonly key: string;
  readonly policies: readonly string[];
  /** Uses left; 0 means unlimited. */
  readonly numUses: number;
}

/** The token store, as the router uses it. */
export interface RouterTokens<Token extends ValidToken> {
  /** The live token of id, or undefined for any failure (one answer, no oracle). */
  validate(
    id: string,
    context: { nowMs: number; clientAddress?: string },
  ): Promise<Token | undefined>;
  /** Spends one use of a use-limited token by a committed write; false when none is left. */
  consumeUse(token: Token, nowMs: number): Promise<boolean>;
  /** After the request of a use-limited token: revokes it when the request took its last use. */
  settleUse(token: Token, nowMs: number): Promise<void>;
  callerOf(token: Token): CallerInfo;
  issueForLogin(
    auth: LoginAuth,
    context: { mount: MountInfo; path: string; nowMs: number },
  ): Promise<AuthInfo>;
  issueWrapping(context: { ttlSeconds: number; creationPath: string; nowMs: number }): Promise<{
    readonly token: string;
    readonly accessor: string;
    readonly key: string;
  }>;
}

/** A compiled set of policies. */
export interface RouterAcl {
  check(
    request: AclRequest,
  ):
    | { readonly allowed: true; readonly sudo: boolean }
    | { readonly allowed: false; readonly reason: string };
}

/** The policy store, as the router uses it. */
export interface RouterPolicies {
  acl(names: readonly string[]): Promise<RouterAcl>;
}

/** The lease manager, as the router uses it. */
export interface RouterLeases {
  registerSecret(input: {
    mount: MountInfo;
    path: string;
    tokenKey: string | undefined;
    secret: SecretLease;
    nowMs: number;
  }): Promise<LeaseInfo>;
}

/** One request as the audit log records it (the broker HMACs every secret string). */
export interface AuditRecord {
  readonly requestId: string;
  readonly operation: string;
  readonly path: string;
  readonly data: RequestData | undefined;
  readonly clientToken: string | undefined;
  /**
   * The storage key of clientToken once the token store validated it (a keyed hash, never the
   * id): the broker finds the token's audit hash by it instead of computing it per line.
   */
  readonly clientTokenKey?: string | undefined;
  readonly clientTokenAccessor: string | undefined;
  readonly remoteAddress: string | undefined;
  readonly mountType: string | undefined;
  readonly mountAccessor: string | undefined;
  readonly policies: readonly string[] | undefined;
  readonly policyAllowed: boolean | undefined;
  readonly timeMs: number;
  /** Set when the request is served from the node's applied state (a stale read). */
  readonly staleRead?: StaleRead | undefined;
}

/** A response as the audit log records it. */
export interface AuditResponseRecord extends AuditRecord {
  readonly response:
    | {
        readonly data?: Readonly<Record<string, unknown>>;
        readonly lease?: LeaseInfo;
        readonly auth?: AuthInfo;
        readonly wrapInfo?: WrapInfo;
        readonly warnings?: readonly string[];
      }
    | undefined;
  readonly error: { readonly code: string; readonly message: string } | undefined;
}

/** The audit broker, as the router uses it: each resolves once a device recorded the line. */
export interface RouterAudit {
  logRequest(record: AuditRecord): Promise<void>;
  logResponse(record: AuditResponseRecord): Promise<void>;
}

/**
 * What makes a request the same request again: the id its caller sent, the caller (its token's
 * storage key; none for a login) and what it asked, as it asked it (the operation before the
 * router told create from update, so a retry of a create is still the same request).
 */
export interface OnceRequest {
  readonly requestId: string;
  readonly tokenKey: string | undefined;
  readonly operation: string;
  readonly path: string;
  readonly data: RequestData | undefined;
}

/**
 * Exactly-once writes (replicated/request_outcomes.ts): a request's writes commit in one
 * transaction with its response, so a retry of it (after a failover, with the same request id)
 * answers what the first attempt committed instead of running again.
 */
export interface RouterOutcomes {
  /** Where request's outcome is kept: a keyed hash of who sent what under which id. */
  keyOf(request: OnceRequest): string;
  /** The response an earlier attempt committed under key, or undefined. */
  find(key: string): Promise<CoreSuccess | undefined>;
  /**
   * Runs attempt with its writes staged and commits them with its response as one transaction;
   * when another attempt of the same request committed first, answers that one's response.
   */
  once(key: string, nowMs: number, attempt: () => Promise<CoreSuccess>): Promise<CoreSuccess>;
}
