/**
 * Audit entries: what the router hands the audit broker for a request and its response
 * (AuditRequestInput, AuditResponseInput), and the Vault-like JSON object each device writes
 * (AuditEntry), one per line. docs/design/audit.md documents every field.
 *
 * Invariant: every token, accessor (unless the device sets `hmac_accessor=false`), metadata value
 * and every string anywhere in request or response data is replaced by its audit hash before an
 * entry leaves this file, and so is every token id in the path. Kept in clear, as Vault keeps
 * them: the type, time, request id, operation, path, mount type and accessor, remote address,
 * policies, display name, TTLs, lease ids, warnings and the error (errors never carry a secret,
 * by the CoreError rule; the router redacts token ids from them).
 */
import { replaceTokenIds } from '../token/token_id.ts';
import { auditHash, hashStrings, type AuditHashMemo } from './audit_hash.ts';

/** A token's description in an audit input (the caller's, or the one a login issued). */
export interface AuditAuthInput {
  readonly clientToken?: string | undefined;
  readonly accessor?: string | undefined;
  readonly policies?: readonly string[] | undefined;
  readonly tokenTtlSeconds?: number | undefined;
  /** The same as tokenTtlSeconds, named as AuthInfo names it (used when that is absent). */
  readonly leaseDurationSeconds?: number | undefined;
  readonly displayName?: string | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/** What the router knows of a request when it audits it (before the handler runs). */
export interface AuditRequestInput {
  readonly requestId: string;
  readonly operation: string;
  readonly path: string;
  readonly data?: Readonly<Record<string, unknown>> | undefined;
  readonly clientToken?: string | undefined;
  /**
   * The token store's key of clientToken, once the store validated it: lets a device find the
   * token's hash in its memo instead of computing it again. Never written to a line.
   */
  readonly clientTokenKey?: string | undefined;
  readonly clientTokenAccessor?: string | undefined;
  readonly remoteAddress?: string | undefined;
  readonly mountType?: string | undefined;
  readonly mountAccessor?: string | undefined;
  /** The policy decision, when one was taken. */
  readonly policyAllowed?: boolean | undefined;
  readonly wrapTtlSeconds?: number | undefined;
  /** The caller's token, when the request carried a valid one. */
  readonly auth?: AuditAuthInput | undefined;
  /** The caller's policies, when `auth` is absent (logged in the entry's `auth` block). */
  readonly policies?: readonly string[] | undefined;
  /** The request's instant (ms since the epoch); absent: the broker's clock. */
  readonly timeMs?: number | undefined;
  /** Set when the request was served from the node's applied state (a stale read). */
  readonly staleRead?: { readonly appliedIndex: number } | undefined;
}

/** A response's wrapping token. */
export interface AuditWrapInput {
  readonly token: string;
  readonly accessor: string;
  readonly ttlSeconds: number;
}

/** What the router answered. */
export interface AuditResponseBodyInput {
  readonly data?: Readonly<Record<string, unknown>> | undefined;
  readonly leaseId?: string | undefined;
  /** The lease as the router answers it (its id is used when leaseId is absent). */
  readonly lease?: { readonly leaseId: string } | undefined;
  /** The token a login or token-create issued. */
  readonly auth?: AuditAuthInput | undefined;
  readonly wrapInfo?: AuditWrapInput | undefined;
  readonly warnings?: readonly string[] | undefined;
}

/** A failure as the router reports it; logged as `<code>: <message>`. */
export interface AuditErrorInput {
  readonly code: string;
  readonly message: string;
}

/** A request and what came of it: a response body, or an error (code and message). */
export interface AuditResponseInput extends AuditRequestInput {
  readonly response?: AuditResponseBodyInput | undefined;
  readonly error?: string | AuditErrorInput | undefined;
}

/** The hashed `auth` block of an entry. */
export interface AuditAuthEntry {
  readonly client_token?: string | undefined;
  readonly accessor?: string | undefined;
  readonly policies?: readonly string[] | undefined;
  readonly token_ttl?: number | undefined;
  readonly display_name?: string | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
}

/** The hashed `request` block of an entry. */
export interface AuditRequestEntry {
  readonly id: string;
  readonly operation: string;
  readonly path: string;
  readonly mount_type?: string | undefined;
  readonly mount_accessor?: string | undefined;
  readonly client_token?: string | undefined;
  readonly client_token_accessor?: string | undefined;
  readonly remote_address?: string | undefined;
  readonly wrap_ttl?: number | undefined;
  readonly data?: unknown;
  readonly policy_results?: { readonly allowed: boolean } | undefined;
  /** A stale read: served from the node's applied state at this Raft index. */
  readonly stale_read?: { readonly applied_index: number } | undefined;
}

/** The hashed `response` block of a response entry. */
export interface AuditResponseEntry {
  readonly data?: unknown;
  readonly secret?: { readonly lease_id: string } | undefined;
  readonly auth?: AuditAuthEntry | undefined;
  readonly wrap_info?:
    { readonly token: string; readonly accessor: string; readonly ttl: number } | undefined;
  readonly warnings?: readonly string[] | undefined;
}

/** One audit line, before the device adds the chain's `prev`. */
export interface AuditEntry {
  readonly type: 'request' | 'response';
  /** RFC 3339 with milliseconds, UTC. */
  readonly time: string;
  readonly auth?: AuditAuthEntry | undefined;
  readonly request: AuditRequestEntry;
  readonly response?: AuditResponseEntry | undefined;
  readonly error?: string | undefined;
}

/** How one device hashes: its salt and whether accessors are hashed too. */
export interface AuditHashing {
  readonly salt: Uint8Array;
  /** Vault's `hmac_accessor`: true (the default) hashes token accessors. */
  readonly hmacAccessor: boolean;
  /** The caller's token and accessor hashes under this salt, remembered across requests. */
  readonly memo?: AuditHashMemo | undefined;
}

function maybeHash(salt: Uint8Array, value: string | undefined): string | undefined {
  return value === undefined ? undefined : auditHash(salt, value);
}

function hashAccessor(hashing: AuditHashing, value: string | undefined): string | undefined {
  return hashing.hmacAccessor ? maybeHash(hashing.salt, value) : value;
}

function formatAuth(hashing: AuditHashing, auth: AuditAuthInput): AuditAuthEntry {
  // NB: fromEntries keeps a "__proto__" key as data (see hashStrings).
  const metadata: Record<string, string> = Object.fromEntries(
    Object.entries(auth.metadata ?? {}).map(([key, value]) => [
      key,
      auditHash(hashing.salt, value),
    ]),
  );
  return {
    client_token: maybeHash(hashing.salt, auth.clientToken),
    accessor: hashAccessor(hashing, auth.accessor),
    policies: auth.policies === undefined ? undefined : [...auth.policies],
    token_ttl: auth.tokenTtlSeconds ?? auth.leaseDurationSeconds,
    display_name: auth.displayName,
    metadata: auth.metadata === undefined ? undefined : metadata,
  };
}

/** The hash of the caller's token: from the device's memo when the token was validated. */
function hashClientToken(hashing: AuditHashing, input: AuditRequestInput): string | undefined {
  const { clientToken, clientTokenKey } = input;
  if (clientToken === undefined) {
    return undefined;
  }
  return hashing.memo === undefined || clientTokenKey === undefined
    ? auditHash(hashing.salt, clientToken)
    : hashing.memo.clientToken(clientTokenKey, clientToken);
}

/** The caller's accessor as the device records it (hashed unless `hmac_accessor=false`). */
function hashCallerAccessor(
  hashing: AuditHashing,
  accessor: string | undefined,
): string | undefined {
  if (accessor === undefined || !hashing.hmacAccessor) {
    return accessor;
  }
  return hashing.memo === undefined
    ? auditHash(hashing.salt, accessor)
    : hashing.memo.accessor(accessor);
}

/** The hashed request data; `response`: for the response line (the request's last). */
function hashRequestData(
  hashing: AuditHashing,
  data: Readonly<Record<string, unknown>> | undefined,
  response: boolean,
): unknown {
  if (data === undefined) {
    return undefined;
  }
  return hashing.memo === undefined
    ? hashStrings(hashing.salt, data)
    : hashing.memo.requestData(data, response);
}

function formatRequest(
  hashing: AuditHashing,
  input: AuditRequestInput,
  response: boolean,
): AuditRequestEntry {
  return {
    id: input.requestId,
    operation: input.operation,
    // NB: a token id a caller put in the path is hashed like any token.
    path: replaceTokenIds(input.path, (id) => auditHash(hashing.salt, id)),
    mount_type: input.mountType,
    mount_accessor: input.mountAccessor,
    client_token: hashClientToken(hashing, input),
    client_token_accessor: hashCallerAccessor(hashing, input.clientTokenAccessor),
    remote_address: input.remoteAddress,
    wrap_ttl: input.wrapTtlSeconds,
    data: hashRequestData(hashing, input.data, response),
    policy_results:
      input.policyAllowed === undefined ? undefined : { allowed: input.policyAllowed },
    stale_read:
      input.staleRead === undefined ? undefined : { applied_index: input.staleRead.appliedIndex },
  };
}

function formatResponseBody(
  hashing: AuditHashing,
  body: AuditResponseBodyInput,
): AuditResponseEntry {
  const wrap = body.wrapInfo;
  const leaseId = body.leaseId ?? body.lease?.leaseId;
  return {
    data: body.data === undefined ? undefined : hashStrings(hashing.salt, body.data),
    secret: leaseId === undefined ? undefined : { lease_id: leaseId },
    auth: body.auth === undefined ? undefined : formatAuth(hashing, body.auth),
    wrap_info:
      wrap === undefined
        ? undefined
        : {
            token: auditHash(hashing.salt, wrap.token),
            accessor: hashAccessor(hashing, wrap.accessor) ?? '',
            ttl: wrap.ttlSeconds,
          },
    warnings: body.warnings === undefined ? undefined : [...body.warnings],
  };
}

/** The entry's `auth` block: the caller's token, or just its policies. */
function callerAuth(hashing: AuditHashing, input: AuditRequestInput): AuditAuthEntry | undefined {
  if (input.auth !== undefined) {
    return formatAuth(hashing, input.auth);
  }
  return input.policies === undefined ? undefined : { policies: [...input.policies] };
}

/** The last instant formatted, and its text: lines written in the same millisecond share it. */
let lastTime = { ms: Number.NaN, text: '' };

/** An instant as RFC 3339 with milliseconds, UTC. */
function isoTime(ms: number): string {
  if (ms !== lastTime.ms) {
    lastTime = { ms, text: new Date(ms).toISOString() };
  }
  return lastTime.text;
}

/** The entry a device writes for a request, at input.timeMs (else nowMs). */
export function formatRequestEntry(
  hashing: AuditHashing,
  input: AuditRequestInput,
  nowMs: number,
): AuditEntry {
  return {
    type: 'request',
    time: isoTime(input.timeMs ?? nowMs),
    auth: callerAuth(hashing, input),
    request: formatRequest(hashing, input, false),
  };
}

/** The entry a device writes for a response (or an error), at nowMs (when it is answered). */
export function formatResponseEntry(
  hashing: AuditHashing,
  input: AuditResponseInput,
  nowMs: number,
): AuditEntry {
  const error = input.error;
  return {
    type: 'response',
    time: isoTime(nowMs),
    auth: callerAuth(hashing, input),
    request: formatRequest(hashing, input, true),
    response:
      input.response === undefined ? undefined : formatResponseBody(hashing, input.response),
    error: typeof error === 'object' ? `${error.code}: ${error.message}` : error,
  };
}
