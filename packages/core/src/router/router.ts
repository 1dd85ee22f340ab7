/**
 * The request router: operation + path + data + token → response, the one path every API
 * adapter calls, so a policy on a path governs gRPC, GraphQL and HTTP alike.
 *
 * The pipeline, in order (each step refuses before the next runs):
 *   1. the path is valid (request_path.ts) and the body within the size limit;
 *   2. one linearizable read point, so the request sees every write acknowledged before it (a
 *      read of secrets that asks for `consistency: 'stale'` falls back to the node's applied
 *      state when no leader answers: stale_read.ts);
 *   3. the mount (longest prefix) and its route; the fields parse against the route's specs;
 *   4. the token is live (unless the route is a login), else one PERMISSION_DENIED for every
 *      kind of bad token;
 *   5. create or update (the route's existence check), then the policies allow the operation
 *      on the full path (sudo too where the route needs it); default deny;
 *   6. the request line is written to the audit devices (fail closed: no device, no service);
 *   7. a use-limited token spends a use by a committed write;
 *   8. the handler runs; a secret gets its lease, a login its token, a wrap its wrapping token;
 *   9. the response line is written, and only then does the response leave.
 * A failure at any step is audited too (request and response lines) and answered with its
 * stable code; an unexpected exception is COFFER_CORE_INTERNAL with a generic message, so no
 * handler's error text (which could hold a value) reaches the caller.
 */
import { randomUUID } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../errors.ts';
import { redactTokenIds } from '../token/token_id.ts';
import type { AclRequest } from './acl_request.ts';
import type { BackendRequest, BackendResponse, CallerInfo, Route } from './backend.ts';
import { isPlainObject, parseFields } from './fields.ts';
import type { LiveMount, MountTable } from './mount_table.ts';
import { validateRequestPath } from './request_path.ts';
import {
  Operation,
  type CoreFailure,
  type CoreRequest,
  type CoreResponse,
  type CoreSuccess,
  type RequestData,
  type StaleRead,
} from './request.ts';
import { matchRoute } from './route_match.ts';
import { checkStaleReadAllowed, staleReadWarning, wantsStaleRead } from './stale_read.ts';
import type {
  AuditRecord,
  RouterAudit,
  RouterLeases,
  RouterOutcomes,
  RouterPolicies,
  RouterTokens,
  ValidToken,
} from './router_ports.ts';
import { wrapTtlMaxSeconds, type ResponseWrapping, type WrappedPayload } from './wrapping.ts';

/** Default request body limit: 1 MiB of JSON. */
export const requestBytesMaxDefault = 1024 * 1024;

/** Where the router reports what callers must not see (no secret ever: codes and paths only). */
export interface RouterLogger {
  error(event: string, fields: Readonly<Record<string, string | number | boolean>>): void;
}

/** Everything the router works with. */
export interface RouterOptions<Token extends ValidToken> {
  readonly mounts: MountTable;
  readonly tokens: RouterTokens<Token>;
  readonly policies: RouterPolicies;
  readonly audit: RouterAudit;
  readonly leases: RouterLeases;
  readonly wrapping: ResponseWrapping<Token>;
  /** Exactly-once writes for requests that name their request id; absent: none. */
  readonly outcomes?: RouterOutcomes;
  /** Waits for a linearizable read point (ReadIndex); throws COFFER_CORE_NOT_ACTIVE on a standby. */
  readonly readPoint: () => Promise<void>;
  /**
   * The read point of a stale read (stale_read.ts): the ReadIndex round, waited for a short
   * while; resolves undefined when it completed (the read is linearizable after all), or the
   * index this node had applied when no leader answered. Absent: stale reads take readPoint.
   */
  readonly staleReadPoint?: () => Promise<StaleRead | undefined>;
  /** Wall-clock ms since the epoch: the request's instant, fixed when it arrives. */
  readonly wallClockMs: () => number;
  readonly requestBytesMax?: number;
  readonly logger?: RouterLogger;
}

const operations = new Set<string>(Object.values(Operation));

/** A request's wrapping TTL when it asks for `sys/wrapping/wrap` without one: 5 minutes. */
const wrapTtlDefaultSeconds = 300;

/** What a handler runs against. */
interface Target {
  readonly mount: LiveMount;
  readonly route: Route;
  readonly request: BackendRequest;
}

/** One request on its way through the pipeline. */
interface RequestContext<Token> {
  readonly request: CoreRequest;
  readonly requestId: string;
  readonly nowMs: number;
  readonly progress: Progress<Token>;
  /** A wrap asked on an unauthenticated route: allowed only for a login's answer. */
  wrapsUnauthenticated?: boolean;
  /** Set when the request is served from the node's applied state, without a read point. */
  staleRead?: StaleRead;
}

/** An audit record as the pipeline fills it in. */
type RecordInProgress = { -readonly [K in keyof AuditRecord]: AuditRecord[K] };

/** What the pipeline knows about a request so far (for its audit lines). */
interface Progress<Token> {
  /**
   * Filled in place as the pipeline learns more (no copy per step); NB: never changed once the
   * request line is written, so both lines of a request record the same facts.
   */
  readonly record: RecordInProgress;
  token: Token | undefined;
  requestLogged: boolean;
  /** The mount the path resolved to (for metrics labels), once known. */
  mountPath: string | undefined;
}

/** The request router of one node. */
export class Router<Token extends ValidToken> {
  readonly #o: RouterOptions<Token>;

  constructor(options: RouterOptions<Token>) {
    this.#o = options;
  }

  /** Serves one request. Never throws: every failure is a CoreFailure. */
  async handle(request: CoreRequest): Promise<CoreResponse> {
    const requestId = request.requestId ?? randomUUID();
    const nowMs = this.#o.wallClockMs();
    const progress: Progress<Token> = {
      record: {
        requestId,
        operation: request.operation,
        path: request.path,
        data: isPlainObject(request.data) ? request.data : undefined,
        clientToken: request.token,
        clientTokenKey: undefined,
        clientTokenAccessor: undefined,
        remoteAddress: request.clientAddress,
        mountType: undefined,
        mountAccessor: undefined,
        policies: undefined,
        policyAllowed: undefined,
        timeMs: nowMs,
      },
      token: undefined,
      requestLogged: false,
      mountPath: undefined,
    };
    const context: RequestContext<Token> = { request, requestId, nowMs, progress };
    const response = await this.#respond(context);
    const { mountPath } = progress;
    const { staleRead } = context;
    return {
      ...response,
      ...(mountPath === undefined ? {} : { mountPath }),
      ...(staleRead === undefined || response.ok ? {} : { staleRead }),
    };
  }

  async #respond(context: RequestContext<Token>): Promise<CoreResponse> {
    const { progress } = context;
    let success: CoreSuccess;
    try {
      success = withStaleRead(await this.#serve(context), context.staleRead);
    } catch (error) {
      return this.#fail(error, progress);
    }
    try {
      await this.#o.audit.logResponse({ ...progress.record, response: success, error: undefined });
    } catch (error) {
      return this.#failure(context.requestId, auditFailure(error));
    }
    return success;
  }

  async #serve(context: RequestContext<Token>): Promise<CoreSuccess> {
    const { request, progress } = context;
    const { path, trailingSlash } = validateRequestPath(request.path);
    const operation = validateOperation(request.operation);
    const data = this.#validateData(request.data);
    const wrapTtlSeconds = validateWrapTtl(request.wrapTtlSeconds);
    await this.#readPointOf(context, { operation, path, wrapTtlSeconds });
    const found = await this.#o.mounts.find(path);
    const match = found === undefined ? undefined : matchRoute(found.mount.routes, found.relative);
    const route = match?.compiled.route;
    if (found !== undefined) {
      const { record } = progress;
      record.path = path;
      record.mountType = found.mount.entry.type;
      record.mountAccessor = found.mount.entry.accessor;
    }
    // NB: the token before any answer that depends on the path, so a caller without one
    // learns nothing of what is mounted; logins are the only routes without one.
    const caller = route?.unauthenticated === true ? undefined : await this.#authenticate(context);
    // NB: only now: a refusal before authentication must not differ by what is mounted.
    progress.mountPath = found?.mount.entry.path;
    // Vault's list paths end in "/": policies name them that way.
    const aclPath = trailingSlash && operation === Operation.list ? `${path}/` : path;
    if (found === undefined || match === undefined || route === undefined) {
      await this.#checkPolicy(progress, { operation, path: aclPath, data });
      throw new CoreError(CoreErrorCode.notFound, `Check the path: "${clip(path)}" does not exist`);
    }
    if (
      caller === undefined &&
      wrapTtlSeconds !== undefined &&
      route !== this.#o.wrapping.unwrapRoute
    ) {
      // NB: checked again after the handler: only a login's answer may be wrapped here.
      context.wrapsUnauthenticated = true;
    }
    const { mount, relative } = found;
    const unparsed: BackendRequest = {
      operation,
      path: relative,
      params: match.params,
      fields: {},
      data,
      storage: mount.storage,
      mount: mount.info,
      caller,
      clientAddress: request.clientAddress,
      requestId: context.requestId,
      nowMs: context.nowMs,
    };
    const effective = isWrite(operation)
      ? await this.#effectiveOperation(route, unparsed)
      : operation;
    const sudo =
      caller === undefined
        ? false
        : await this.#checkPolicy(progress, {
            operation: effective,
            path: aclPath,
            data,
            ...(route.sudo === true ? { sudo: true } : {}),
            ...(wrapTtlSeconds === undefined ? {} : { wrapTtlSeconds }),
          });
    // NB: fields parse after the policy check, so a denied caller learns no field list.
    const fields = route.freeForm === true ? data : parseFields(route.fields ?? {}, data);
    return this.#run(context, {
      mount,
      route,
      request: { ...unparsed, fields, operation: effective, sudo },
    });
  }

  /**
   * Waits for the request's read point. A stale-read request, allowed only for a read or list
   * of secrets, falls back to the node's applied state when no leader answers in time; both
   * audit lines then record the applied index it was served at.
   */
  async #readPointOf(
    context: RequestContext<Token>,
    target: { operation: Operation; path: string; wrapTtlSeconds: number | undefined },
  ): Promise<void> {
    const { staleReadPoint, readPoint } = this.#o;
    if (!wantsStaleRead(context.request.consistency)) {
      await readPoint();
      return;
    }
    checkStaleReadAllowed(target.operation, target);
    if (staleReadPoint === undefined) {
      await readPoint();
      return;
    }
    const stale = await staleReadPoint();
    if (stale !== undefined) {
      context.staleRead = stale;
      context.progress.record.staleRead = stale;
    }
  }

  /**
   * Audits the allowed request, spends a use, runs it, and settles the token's uses. A write
   * that names its request id runs exactly once: a retry of one that committed answers its
   * committed response, without spending a use or running the handler again.
   */
  async #run(context: RequestContext<Token>, target: Target): Promise<CoreSuccess> {
    const { progress } = context;
    progress.record.policyAllowed = target.request.caller === undefined ? undefined : true;
    await this.#logRequest(progress);
    const once = this.#onceKey(context, target);
    if (once !== undefined) {
      const earlier = await once.outcomes.find(once.key);
      if (earlier !== undefined) {
        return earlier;
      }
    }
    if (progress.token !== undefined && progress.token.numUses > 0) {
      await this.#spendUse(context);
    }
    try {
      return once === undefined
        ? await this.#execute(context, target)
        : await once.outcomes.once(once.key, context.nowMs, () => this.#execute(context, target));
    } finally {
      const token = progress.token;
      if (token !== undefined && token.numUses > 0) {
        await this.#o.tokens.settleUse(token, context.nowMs);
      }
    }
  }

  /**
   * Where the outcome of this request is kept, when it runs exactly once: it changes state (a
   * write, or a wrapped answer), its caller named its request id (a retry can name it again),
   * and its backend commits with outcomes.
   */
  #onceKey(
    context: RequestContext<Token>,
    target: Target,
  ): { readonly outcomes: RouterOutcomes; readonly key: string } | undefined {
    const { outcomes } = this.#o;
    const { request } = context;
    const changes =
      (request.operation !== Operation.read && request.operation !== Operation.list) ||
      request.wrapTtlSeconds !== undefined;
    if (
      outcomes === undefined ||
      request.requestId === undefined ||
      !changes ||
      target.mount.backend.exactlyOnce === false
    ) {
      return undefined;
    }
    const key = outcomes.keyOf({
      requestId: request.requestId,
      tokenKey: context.progress.token?.key,
      operation: request.operation,
      path: request.path,
      data: isPlainObject(request.data) ? request.data : undefined,
    });
    return { outcomes, key };
  }

  /** Validates the caller's token: one PERMISSION_DENIED for every kind of bad token. */
  async #authenticate(context: RequestContext<Token>): Promise<CallerInfo> {
    const { request, progress } = context;
    const token =
      request.token === undefined
        ? undefined
        : await this.#o.tokens.validate(request.token, {
            nowMs: context.nowMs,
            ...(request.clientAddress === undefined
              ? {}
              : { clientAddress: request.clientAddress }),
          });
    if (token === undefined) {
      throw permissionDenied();
    }
    progress.token = token;
    const caller = this.#o.tokens.callerOf(token);
    const { record } = progress;
    record.clientTokenKey = token.key;
    record.clientTokenAccessor = caller.accessor;
    record.policies = token.policies;
    return caller;
  }

  /** A use-limited token spends one use by a committed write before the handler runs. */
  async #spendUse(context: RequestContext<Token>): Promise<void> {
    const token = context.progress.token;
    if (
      token !== undefined &&
      token.numUses > 0 &&
      !(await this.#o.tokens.consumeUse(token, context.nowMs))
    ) {
      throw permissionDenied();
    }
  }

  /** Runs the handler (or the unwrap), then wraps the response when asked. */
  async #execute(context: RequestContext<Token>, target: Target): Promise<CoreSuccess> {
    const { wrapping } = this.#o;
    const token = context.progress.token;
    const payload =
      target.route === wrapping.unwrapRoute
        ? await wrapping.unwrap(target.request, token)
        : await this.#payloadOf(target, token);
    const wrapTtl =
      validateWrapTtl(context.request.wrapTtlSeconds) ??
      (target.route === wrapping.wrapRoute ? wrapTtlDefaultSeconds : undefined);
    if (wrapTtl !== undefined && target.route !== wrapping.unwrapRoute) {
      if (context.wrapsUnauthenticated === true && payload.auth === undefined) {
        throw new CoreError(
          CoreErrorCode.invalidRequest,
          'Send wrapTtlSeconds only with a token, or with a login: this unauthenticated path does not wrap',
        );
      }
      const wrapInfo = await wrapping.wrap(payload, {
        ttlSeconds: wrapTtl,
        creationPath: `${target.mount.entry.path}${target.request.path}`,
        nowMs: context.nowMs,
      });
      return { ok: true, requestId: context.requestId, wrapInfo };
    }
    return { ok: true, requestId: context.requestId, ...payload };
  }

  /** Runs the handler and turns its secret and auth into a lease and a token. */
  async #payloadOf(target: Target, token: Token | undefined): Promise<WrappedPayload> {
    const { mount, route, request } = target;
    const handler =
      route.operations[request.operation] ??
      (request.operation === Operation.create ? route.operations.update : undefined);
    if (handler === undefined) {
      throw new CoreError(
        CoreErrorCode.unsupportedOperation,
        `Use an operation this path supports (${Object.keys(route.operations).join(', ')}): ` +
          `"${clip(request.path)}" does not support ${request.operation}`,
      );
    }
    const response: BackendResponse = await handler(request);
    const lease =
      response.secret === undefined
        ? undefined
        : await this.#o.leases.registerSecret({
            mount: mount.info,
            path: request.path,
            tokenKey: token?.key,
            secret: response.secret,
            nowMs: request.nowMs,
          });
    const auth =
      response.auth === undefined
        ? response.issued
        : await this.#o.tokens.issueForLogin(response.auth, {
            mount: mount.info,
            path: `${mount.entry.path}${request.path}`,
            nowMs: request.nowMs,
          });
    return {
      ...(response.data === undefined ? {} : { data: response.data }),
      ...(lease === undefined ? {} : { lease }),
      ...(auth === undefined ? {} : { auth }),
      ...(response.warnings === undefined ? {} : { warnings: response.warnings }),
    };
  }

  /**
   * Create or update, decided here and never by the caller: with an existence check, a write is
   * a `create` when the target is absent and an `update` when it exists (so `create` alone can
   * never overwrite); without one, every write is an `update` (Vault's rule).
   */
  async #effectiveOperation(route: Route, request: BackendRequest): Promise<Operation> {
    if (!isWrite(request.operation)) {
      return request.operation;
    }
    if (route.exists === undefined) {
      return Operation.update;
    }
    return (await route.exists(request)) ? Operation.update : Operation.create;
  }

  /** Checks the policies; resolves with whether the caller holds sudo on the path. */
  async #checkPolicy(progress: Progress<Token>, check: AclRequest): Promise<boolean> {
    const token = progress.token;
    if (token === undefined) {
      return false;
    }
    const acl = await this.#o.policies.acl(token.policies);
    const decision = acl.check(check);
    if (!decision.allowed) {
      progress.record.policyAllowed = false;
      throw permissionDenied();
    }
    return decision.sudo;
  }

  #logRequest(progress: Progress<Token>): Promise<void> {
    progress.requestLogged = true;
    return this.#o.audit.logRequest(progress.record);
  }

  /** Audits a failed request (request and response lines) and answers it. */
  async #fail(error: unknown, progress: Progress<Token>): Promise<CoreFailure> {
    const { requestId } = progress.record;
    if (isAuditFailure(error)) {
      return this.#failure(requestId, error);
    }
    const failure = this.#failure(requestId, this.#asCoreError(error, progress.record.path));
    try {
      if (!progress.requestLogged) {
        await this.#logRequest(progress);
      }
      await this.#o.audit.logResponse({
        ...progress.record,
        response: undefined,
        error: { code: failure.code, message: failure.message },
      });
    } catch (auditError) {
      return this.#failure(requestId, auditFailure(auditError));
    }
    return failure;
  }

  #asCoreError(error: unknown, path: string): CoreError {
    if (error instanceof CoreError) {
      return error;
    }
    // NB: the error's name and where it was thrown, never its message (it could quote a value).
    this.#o.logger?.error('request_failed_unexpectedly', {
      path: clip(path),
      error: error instanceof Error ? error.name : typeof error,
      at: error instanceof Error ? thrownAt(error) : 'unknown',
    });
    return new CoreError(
      CoreErrorCode.internal,
      'Retry later or report it: the request failed on an internal error (the server log has details)',
    );
  }

  #failure(requestId: string, error: CoreError): CoreFailure {
    const retry = /retry after (\d+) ms/i.exec(error.message);
    return {
      ok: false,
      requestId,
      code: error.code,
      // NB: an error may quote the request path, and a caller may have put a token id in it.
      message: redactTokenIds(error.message),
      ...(retry?.[1] === undefined ? {} : { retryAfterMs: Number(retry[1]) }),
    };
  }

  #validateData(data: unknown): RequestData {
    if (data === undefined || data === null) {
      return {};
    }
    if (!isPlainObject(data)) {
      throw new CoreError(CoreErrorCode.invalidRequest, 'Send the request data as a JSON object');
    }
    const limit = this.#o.requestBytesMax ?? requestBytesMaxDefault;
    let size: number;
    try {
      // NB: the UTF-8 length without encoding (JSON.stringify never emits a lone surrogate).
      const json = JSON.stringify(data) as string | undefined;
      size = json === undefined ? 0 : Buffer.byteLength(json, 'utf8');
    } catch {
      throw new CoreError(CoreErrorCode.invalidRequest, 'Send the request data as plain JSON');
    }
    if (size > limit) {
      throw new CoreError(
        CoreErrorCode.valueTooLarge,
        `Send at most ${limit} bytes of request data (this request has ${size}), or raise the server's limit`,
      );
    }
    return data;
  }
}

/**
 * The wrap TTL of a request: undefined (no wrap) or whole seconds within 1 s to 30 days;
 * anything else is refused before anything runs.
 */
function validateWrapTtl(ttl: unknown): number | undefined {
  if (ttl === undefined) {
    return undefined;
  }
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 1 || ttl > wrapTtlMaxSeconds) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      `Send wrapTtlSeconds as whole seconds from 1 to ${wrapTtlMaxSeconds}, or leave it out`,
    );
  }
  return ttl;
}

/** success as a stale read answers it: with its applied index and a warning that says so. */
function withStaleRead(success: CoreSuccess, stale: StaleRead | undefined): CoreSuccess {
  return stale === undefined
    ? success
    : {
        ...success,
        staleRead: stale,
        warnings: [...(success.warnings ?? []), staleReadWarning(stale)],
      };
}

/** A create or an update: the operations whose kind the route's existence check decides. */
function isWrite(operation: Operation): boolean {
  return operation === Operation.update || operation === Operation.create;
}

function validateOperation(operation: unknown): Operation {
  if (typeof operation !== 'string' || !operations.has(operation)) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      `Send one of the operations ${[...operations].join(', ')}`,
    );
  }
  return operation as Operation;
}

/** The one answer for a missing, malformed, expired or revoked token, or a denying policy. */
export function permissionDenied(): CoreError {
  return new CoreError(
    CoreErrorCode.permissionDenied,
    'Check the token and its policies: permission denied',
  );
}

function isAuditFailure(error: unknown): error is CoreError {
  return error instanceof CoreError && error.code === CoreErrorCode.auditUnavailable;
}

function auditFailure(error: unknown): CoreError {
  return isAuditFailure(error)
    ? error
    : new CoreError(
        CoreErrorCode.auditUnavailable,
        'Fix the audit devices: none could record the request, so it was not served',
        { cause: error },
      );
}

/** The source location of the first stack frame ("file.ts:12:3"): no data, only code. */
function thrownAt(error: Error): string {
  const frame = error.stack?.split('\n').find((line) => line.trimStart().startsWith('at '));
  const location = frame === undefined ? undefined : /([^/\\()]+:\d+:\d+)\)?\s*$/.exec(frame);
  return location?.[1] ?? 'unknown';
}

/** A path for a message or a log line: token ids redacted first, then cut at 64 characters. */
function clip(text: string): string {
  // NB: redact before cutting: a cut token id no longer matches the pattern.
  const redacted = redactTokenIds(text);
  return redacted.length > 64 ? `${redacted.slice(0, 64)}...` : redacted;
}
