/**
 * Small stand-ins for the router's ports, for the router's own unit tests: a token table, an
 * allow-list ACL, a recording audit sink that can be made to fail, and a lease counter. The
 * real subsystems have their own tests, and the integration tests run the router over them.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { Backend, CallerInfo, LoginAuth } from './backend.ts';
import { MemoryStorageView } from './memory_storage_view.ts';
import { MountTable, systemTtlsDefault, type MountEntry } from './mount_table.ts';
import type { AuthInfo, CoreRequest, LeaseInfo } from './request.ts';
import { Router, type RouterOptions } from './router.ts';
import type {
  AuditRecord,
  AuditResponseRecord,
  RouterAcl,
  RouterAudit,
  RouterTokens,
  ValidToken,
} from './router_ports.ts';
import { ResponseWrapping } from './wrapping.ts';

/** A token of the fake store. */
export interface FakeToken extends ValidToken {
  readonly id: string;
  readonly accessor: string;
}

/** Tokens by id, with use counts. */
export class FakeTokens implements RouterTokens<FakeToken> {
  readonly tokens = new Map<string, FakeToken>();
  #next = 0;

  add(id: string, policies: readonly string[], numUses = 0): FakeToken {
    const token = { id, key: `key-${id}`, accessor: `acc-${id}`, policies, numUses };
    this.tokens.set(id, token);
    return token;
  }

  validate(id: string): Promise<FakeToken | undefined> {
    return Promise.resolve(this.tokens.get(id));
  }

  consumeUse(token: FakeToken): Promise<boolean> {
    const current = this.tokens.get(token.id);
    if (current === undefined || current.numUses <= 0) {
      return Promise.resolve(false);
    }
    if (current.numUses === 1) {
      this.tokens.delete(token.id);
    } else {
      this.tokens.set(token.id, { ...current, numUses: current.numUses - 1 });
    }
    return Promise.resolve(true);
  }

  settleUse(): Promise<void> {
    return Promise.resolve();
  }

  callerOf(token: FakeToken): CallerInfo {
    return {
      accessor: token.accessor,
      policies: token.policies,
      displayName: 'test',
      metadata: {},
      root: token.policies.includes('root'),
    };
  }

  issueForLogin(auth: LoginAuth): Promise<AuthInfo> {
    const token = this.add(`login-${++this.#next}`, auth.policies);
    return Promise.resolve({
      clientToken: token.id,
      accessor: token.accessor,
      policies: auth.policies,
      tokenPolicies: auth.policies,
      metadata: auth.metadata,
      leaseDurationSeconds: auth.ttlSeconds,
      renewable: auth.renewable,
      orphan: true,
      tokenType: 'service',
      numUses: auth.numUses,
    });
  }

  issueWrapping(): Promise<{ token: string; accessor: string; key: string }> {
    const token = this.add(`wrap-${++this.#next}`, ['response-wrapping'], 1);
    return Promise.resolve({ token: token.id, accessor: token.accessor, key: token.key });
  }
}

/**
 * An ACL of "capability path" strings per policy name: `read secret/*` allows reading under
 * secret/; `sudo` marks a path as sudo-capable. The real ACL is policy/acl.ts.
 */
export function fakeAcl(rules: ReadonlyMap<string, readonly string[]>) {
  return {
    acl(names: readonly string[]): Promise<RouterAcl> {
      const lines = names.flatMap((n) => rules.get(n) ?? []);
      const root = names.includes('root');
      return Promise.resolve({
        check: (request) => {
          if (root) {
            return { allowed: true, sudo: true };
          }
          const allows = (capability: string) =>
            lines.some((line) => {
              const [cap, pattern = ''] = line.split(' ');
              return (
                cap === capability &&
                (pattern.endsWith('*')
                  ? request.path.startsWith(pattern.slice(0, -1))
                  : request.path === pattern)
              );
            });
          const ok = allows(request.operation) && (request.sudo !== true || allows('sudo'));
          return ok
            ? { allowed: true, sudo: allows('sudo') }
            : { allowed: false, reason: 'no rule' };
        },
      });
    },
  };
}

/** Records audit lines in order; `failing` makes every write fail closed. */
export class RecordingAudit implements RouterAudit {
  readonly lines: { readonly type: 'request' | 'response'; readonly record: AuditRecord }[] = [];
  failing = false;

  logRequest(record: AuditRecord): Promise<void> {
    return this.#log('request', record);
  }

  logResponse(record: AuditResponseRecord): Promise<void> {
    return this.#log('response', record);
  }

  #log(type: 'request' | 'response', record: AuditRecord): Promise<void> {
    if (this.failing) {
      return Promise.reject(
        new CoreError(CoreErrorCode.auditUnavailable, 'Fix the audit devices: none wrote'),
      );
    }
    this.lines.push({ type, record });
    return Promise.resolve();
  }
}

const sysEntry: MountEntry = {
  path: 'sys/',
  type: 'system',
  uuid: 'system',
  accessor: 'system_0',
  description: '',
  defaultLeaseTtlSeconds: 0,
  maxLeaseTtlSeconds: 0,
  options: {},
};

/** A mount table over root with `sys/` (wrapping routes) built in and the given mounts. */
async function fakeMounts(
  root: MemoryStorageView,
  wrapping: ResponseWrapping<FakeToken>,
  options: FakeRouterOptions,
): Promise<MountTable> {
  const factories = Object.fromEntries(
    Object.entries(options.factories).map(([type, make]) => [
      type,
      (mount: { path: string }) => make(mount.path),
    ]),
  );
  const table = new MountTable({
    root,
    factories,
    system: systemTtlsDefault,
    builtins: [
      MountTable.builtin({
        entry: sysEntry,
        backend: { routes: wrapping.routes() },
        storage: root.sub('sys/'),
        info: { ...sysEntry, defaultLeaseTtlSeconds: 1, maxLeaseTtlSeconds: 1 },
      }),
    ],
  });
  for (const mount of options.mounts) {
    await table.enable({
      path: mount.path,
      type: mount.type,
      description: '',
      defaultLeaseTtlSeconds: 0,
      maxLeaseTtlSeconds: 0,
      options: {},
    });
  }
  return table;
}

/** What a fake router serves. */
export interface FakeRouterOptions {
  readonly rules: ReadonlyMap<string, readonly string[]>;
  readonly factories: Readonly<Record<string, (mount: MountEntry['path']) => Backend>>;
  readonly mounts: readonly { readonly path: string; readonly type: string }[];
  readonly requestBytesMax?: number;
  /** The stale read point (router.ts); absent: stale reads take the linearizable one. */
  readonly staleReadPoint?: RouterOptions<FakeToken>['staleReadPoint'];
  /** The linearizable read point; default: resolves at once. */
  readonly readPoint?: () => Promise<void>;
}

/** A router over memory storage with the fakes above and the given backends mounted. */
export async function fakeRouter(options: FakeRouterOptions) {
  const root = new MemoryStorageView();
  const tokens = new FakeTokens();
  const audit = new RecordingAudit();
  const leases: LeaseInfo[] = [];
  const wrapping = new ResponseWrapping({ storage: root.sub('sys/wrapping/'), tokens });
  let nowMs = Date.UTC(2026, 10, 25);
  const router = new Router<FakeToken>({
    mounts: await fakeMounts(root, wrapping, options),
    tokens,
    policies: fakeAcl(options.rules),
    audit,
    leases: {
      registerSecret: (input) => {
        const lease = {
          leaseId: `${input.mount.path}${input.path}/l${leases.length}`,
          ttlSeconds: input.secret.ttlSeconds ?? input.mount.defaultLeaseTtlSeconds,
          renewable: input.secret.renewable,
        };
        leases.push(lease);
        return Promise.resolve(lease);
      },
    },
    wrapping,
    readPoint: options.readPoint ?? (() => Promise.resolve()),
    ...(options.staleReadPoint === undefined ? {} : { staleReadPoint: options.staleReadPoint }),
    wallClockMs: () => nowMs,
    ...(options.requestBytesMax === undefined ? {} : { requestBytesMax: options.requestBytesMax }),
  });
  return {
    router,
    tokens,
    audit,
    leases,
    root,
    advance: (ms: number) => (nowMs += ms),
    handle: (request: CoreRequest) => router.handle(request),
  };
}
