/**
 * The routes of the `auth/token/` mount (Vault's token auth method API): create and
 * create-orphan, lookup (by token, self, accessor), renew (by token, self, accessor), revoke
 * (by token, self, accessor, orphaning), and tidy.
 *
 * The caller's own token is found from `caller.accessor` through the accessor index (handlers
 * never see the caller's id). A created token reaches the router as the response's `issued`
 * (answered as `auth`), never through `data`.
 *
 * Invariant: no response carries a token id in `data`: lookups show the accessor, never the id.
 * `sudo` below means a root caller, a caller with the sudo capability on the create path
 * (BackendRequest.sudo), or the create-orphan route, which the router only serves to callers
 * with sudo on it.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type {
  Backend,
  BackendRequest,
  BackendResponse,
  MountInfo,
  Route,
} from '../router/backend.ts';
import { FieldType, type FieldSpec } from '../router/fields.ts';
import type { IssueSpec } from './issue_spec.ts';
import { isInLastUse, isLive, type TokenEntry, TokenKind } from './token_entry.ts';
import { isTokenIdShaped } from './token_id.ts';
import { childPolicies, rootPolicy } from './token_policies.ts';
import type { TokenRecords, VersionedEntry } from './token_records.ts';
import type { TokenTidyReport } from './token_tidy.ts';
import { capPeriod, planTtl, type TtlLimits } from './token_ttl.ts';
import { authInfoOf, lookupData, renewalData } from './token_view.ts';

/** What the routes need of the token store. */
export interface TokenRouteStore {
  readonly records: TokenRecords;
  limitsOf(mount: MountInfo): TtlLimits;
  issue(spec: IssueSpec): Promise<{ id: string; entry: TokenEntry }>;
  findLive(id: string, nowMs: number): Promise<TokenEntry | undefined>;
  findByAccessor(
    accessor: string,
    context: { nowMs: number; lastUse?: boolean },
  ): Promise<TokenEntry | undefined>;
  renew(
    entry: TokenEntry,
    input: { incrementSeconds: number; nowMs: number },
  ): Promise<{ entry: TokenEntry; ttlSeconds: number; warnings: readonly string[] }>;
  revokeTree(entry: TokenEntry, nowMs: number): Promise<void>;
  revokeOrphan(entry: TokenEntry, nowMs: number): Promise<void>;
  tidy(nowMs: number): Promise<TokenTidyReport>;
}

function denied(message: string): CoreError {
  return new CoreError(CoreErrorCode.permissionDenied, message);
}

function noSuchToken(field: string): CoreError {
  return new CoreError(
    CoreErrorCode.notFound,
    `Check the value of "${field}": no live token has it`,
  );
}

/** The caller's own token entry as read (live, or running its last use). */
async function callerEntry(
  store: TokenRouteStore,
  request: BackendRequest,
): Promise<VersionedEntry> {
  const accessor = request.caller?.accessor;
  const read = accessor === undefined ? undefined : await store.records.readByAccessor(accessor);
  if (
    read === undefined ||
    !(isLive(read.entry, request.nowMs) || isInLastUse(read.entry, request.nowMs))
  ) {
    throw denied('Check the token and its policies: permission denied');
  }
  return read;
}

function text(request: BackendRequest, name: string): string | undefined {
  const value = request.fields[name];
  return typeof value === 'string' ? value : undefined;
}

function count(request: BackendRequest, name: string): number {
  const value = request.fields[name];
  return typeof value === 'number' ? value : 0;
}

function displayNameOf(request: BackendRequest): string {
  const name = (text(request, 'display_name') ?? '')
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-');
  return name === '' ? 'token' : `token-${name.slice(0, 120)}`;
}

/** Checks the create fields that need sudo; returns whether the token is an orphan. */
function checkCreateRights(
  request: BackendRequest,
  context: { sudo: boolean; orphanRoute: boolean },
): boolean {
  const type = text(request, 'type');
  if (type !== undefined && type !== 'service' && type !== 'default') {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      `Send type "service": Coffer has no "${type.slice(0, 32)}" tokens`,
    );
  }
  if (request.fields['no_parent'] === true && !context.sudo) {
    throw denied(
      'Use a root token or create-orphan to create an orphan token: "no_parent" needs root or sudo',
    );
  }
  if (count(request, 'period') > 0 && !context.sudo) {
    throw denied(
      'Use a root token or sudo to create a periodic token: "period" needs root or sudo',
    );
  }
  if (count(request, 'num_uses') < 0) {
    throw new CoreError(CoreErrorCode.invalidRequest, 'Send a "num_uses" of 0 (unlimited) or more');
  }
  return context.orphanRoute || request.fields['no_parent'] === true;
}

async function create(
  store: TokenRouteStore,
  request: BackendRequest,
  orphanRoute: boolean,
): Promise<BackendResponse> {
  const parent = await callerEntry(store, request);
  const parentRoot = parent.entry.policies.includes(rootPolicy);
  const sudo = parentRoot || orphanRoute || request.sudo === true;
  const orphan = checkCreateRights(request, { sudo, orphanRoute });
  const requested = request.fields['policies'];
  const policies = childPolicies({
    requested: Array.isArray(requested) ? (requested as string[]) : undefined,
    parentPolicies: parent.entry.policies,
    noDefaultPolicy: request.fields['no_default_policy'] === true,
    sudo,
  });
  const limits = store.limitsOf(request.mount);
  const period = capPeriod(count(request, 'period'), limits);
  const periodSeconds = period.periodSeconds;
  const planned = planTtl(
    {
      ttlSeconds: count(request, 'ttl'),
      explicitMaxTtlSeconds: count(request, 'explicit_max_ttl'),
      periodSeconds,
      root: policies.includes(rootPolicy),
    },
    { limits, nowMs: request.nowMs },
  );
  const ttl = { ...planned, warnings: [...period.warnings, ...planned.warnings] };
  const metadata = request.fields['meta'];
  const { id, entry } = await store.issue({
    kind: TokenKind.service,
    policies,
    ...(orphan ? {} : { parent }),
    ttl,
    periodSeconds,
    numUses: count(request, 'num_uses'),
    renewable: request.fields['renewable'] !== false,
    displayName: displayNameOf(request),
    metadata:
      typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, string>) : {},
    boundCidrs: [],
    path: `${request.mount.path}${request.path}`,
    nowMs: request.nowMs,
  });
  const issued = authInfoOf(id, entry);
  return ttl.warnings.length === 0 ? { issued } : { issued, warnings: ttl.warnings };
}

/** How a route finds its target token: by the `token` field, the `accessor` field, or self. */
interface Target {
  readonly field: string;
  find(store: TokenRouteStore, request: BackendRequest): Promise<TokenEntry | undefined>;
  /** Also a token marked revoked or expired, so a revocation interrupted midway can resume. */
  findForRevoke(store: TokenRouteStore, request: BackendRequest): Promise<TokenEntry | undefined>;
}

const byToken: Target = {
  field: 'token',
  find: (store, request) => store.findLive(text(request, 'token') ?? '', request.nowMs),
  findForRevoke: async (store, request) => {
    const id = text(request, 'token') ?? '';
    return isTokenIdShaped(id)
      ? (await store.records.read(store.records.keyOf(id)))?.entry
      : undefined;
  },
};
const byAccessor: Target = {
  field: 'accessor',
  find: (store, request) =>
    store.findByAccessor(text(request, 'accessor') ?? '', { nowMs: request.nowMs }),
  findForRevoke: async (store, request) =>
    (await store.records.readByAccessor(text(request, 'accessor') ?? ''))?.entry,
};
const self: Target = {
  field: 'token',
  find: async (store, request) => (await callerEntry(store, request)).entry,
  findForRevoke: async (store, request) => (await callerEntry(store, request)).entry,
};

async function required(
  store: TokenRouteStore,
  request: BackendRequest,
  target: Target,
): Promise<TokenEntry> {
  const entry = await target.find(store, request);
  if (entry === undefined) {
    throw noSuchToken(target.field);
  }
  return entry;
}

async function lookup(
  store: TokenRouteStore,
  request: BackendRequest,
  target: Target,
): Promise<BackendResponse> {
  return { data: lookupData(await required(store, request, target), request.nowMs) };
}

async function renew(
  store: TokenRouteStore,
  request: BackendRequest,
  target: Target,
): Promise<BackendResponse> {
  const entry = await required(store, request, target);
  const renewed = await store.renew(entry, {
    incrementSeconds: count(request, 'increment'),
    nowMs: request.nowMs,
  });
  return {
    data: renewalData(renewed.entry, renewed.ttlSeconds),
    ...(renewed.warnings.length === 0 ? {} : { warnings: renewed.warnings }),
  };
}

/** Revocation is idempotent: a token already gone answers like a revoked one. */
async function revoke(
  store: TokenRouteStore,
  request: BackendRequest,
  target: Target,
): Promise<BackendResponse> {
  const entry = await target.findForRevoke(store, request);
  if (entry !== undefined) {
    await store.revokeTree(entry, request.nowMs);
  }
  return {};
}

async function revokeOrphan(
  store: TokenRouteStore,
  request: BackendRequest,
): Promise<BackendResponse> {
  const entry = await byToken.find(store, request);
  if (entry !== undefined) {
    await store.revokeOrphan(entry, request.nowMs);
  }
  return {};
}

const createFields: Readonly<Record<string, FieldSpec>> = {
  policies: { type: FieldType.strings },
  meta: { type: FieldType.stringMap },
  no_parent: { type: FieldType.bool, default: false },
  no_default_policy: { type: FieldType.bool, default: false },
  renewable: { type: FieldType.bool, default: true },
  ttl: { type: FieldType.duration, default: 0 },
  explicit_max_ttl: { type: FieldType.duration, default: 0 },
  period: { type: FieldType.duration, default: 0 },
  display_name: { type: FieldType.string },
  num_uses: { type: FieldType.int, default: 0 },
  type: { type: FieldType.string },
};
const targetFields = (target: Target): Readonly<Record<string, FieldSpec>> =>
  target === self ? {} : { [target.field]: { type: FieldType.string, required: true } };
const incrementField = { increment: { type: FieldType.duration, default: 0 } } as const;

function targetRoutes(store: TokenRouteStore, suffix: string, target: Target): Route[] {
  return [
    target === self
      ? { pattern: `lookup${suffix}`, operations: { read: (r) => lookup(store, r, target) } }
      : {
          pattern: `lookup${suffix}`,
          fields: targetFields(target),
          operations: { update: (r) => lookup(store, r, target) },
        },
    {
      pattern: `renew${suffix}`,
      fields: { ...targetFields(target), ...incrementField },
      operations: { update: (r) => renew(store, r, target) },
    },
    {
      pattern: `revoke${suffix}`,
      fields: targetFields(target),
      operations: { update: (r) => revoke(store, r, target) },
    },
  ];
}

/** The routes of a token store. */
export function tokenBackend(store: TokenRouteStore): Backend {
  const routes: Route[] = [
    {
      pattern: 'create',
      fields: createFields,
      operations: { update: (r) => create(store, r, false) },
    },
    {
      pattern: 'create-orphan',
      sudo: true,
      fields: createFields,
      operations: { update: (r) => create(store, r, true) },
    },
    ...targetRoutes(store, '', byToken),
    ...targetRoutes(store, '-self', self),
    ...targetRoutes(store, '-accessor', byAccessor),
    {
      pattern: 'revoke-orphan',
      sudo: true,
      fields: targetFields(byToken),
      operations: { update: (r) => revokeOrphan(store, r) },
    },
    {
      pattern: 'tidy',
      operations: { update: async (r) => ({ data: { ...(await store.tidy(r.nowMs)) } }) },
    },
  ];
  return { routes };
}
