/**
 * RequestServices: the request path of an unsealed node, assembled. It builds the router over
 * the replicated state (ReplicatedView over SecureStore) with the token store, the policies,
 * the audit broker, the expiration manager, response wrapping, and the mount table whose
 * builtins are `sys/` and `auth/token/`. Secrets engines (`kv`) and auth methods (`approle`)
 * mount through `sys/mounts` and `sys/auth`.
 *
 * Storage areas (raw state paths; docs/design/router.md): `core/mounts`, `logical/<uuid>/`,
 * `auth/token/`, `sys/expire/`, `sys/policy/`, `sys/audit/`, `sys/wrapping/`.
 *
 * Invariant: the expiration manager runs only while this node is the active node (start() on
 * becoming active, stop() on losing it or sealing); every other part serves from any node that
 * holds a read point.
 */
import type { DriverClock } from '@coffer/raft/node';

import { AuditBroker } from '../audit/audit_broker.ts';
import { auditRoutes, enableAuditDevice, fileAuditDeviceRecord } from '../audit/audit_backend.ts';
import type { OpenAuditFile } from '../audit/audit_file_handle.ts';
import { createAppRoleBackend } from '../auth/approle/backend.ts';
import type { Barrier } from '../barrier/barrier.ts';
import { CoreError } from '../errors.ts';
import { IdentifierPurpose } from '../barrier/key_derivation.ts';
import { createKvBackend } from '../engines/kv/kv_backend.ts';
import { ExpirationManager } from '../lease/expiration_manager.ts';
import type { StoredLease } from '../lease/stored_lease.ts';
import { silentServerLog, type ServerLog } from '../logging/server_log.ts';
import { PolicyStore } from '../policy/policy_store.ts';
import { ReplicatedView } from '../replicated/replicated_view.ts';
import { RequestOutcomes } from '../replicated/request_outcomes.ts';
import type { SecureStore } from '../replicated/secure_store.ts';
import { outsideRequests } from '../replicated/staged_writes.ts';
import type { Backend, BackendFactory, Route } from '../router/backend.ts';
import {
  MountTable,
  systemTtlsDefault,
  type LiveMount,
  type MountEntry,
  type SystemTtls,
} from '../router/mount_table.ts';
import type { CoreRequest, CoreResponse } from '../router/request.ts';
import { Router } from '../router/router.ts';
import type { StorageView } from '../router/storage_view.ts';
import { mountRoutes } from '../router/sys_mounts.ts';
import { ResponseWrapping } from '../router/wrapping.ts';
import type { TokenEntry } from '../token/token_entry.ts';
import { TokenStore } from '../token/token_store.ts';
import { capabilitiesRoutes } from './capabilities_routes.ts';
import { operatorRoutes, type OperatorPort } from './operator_routes.ts';
import { staleReadPoint } from './stale_read_point.ts';

/** The secrets engine types `sys/mounts` enables. */
export const secretsEngineTypes: readonly string[] = ['kv', 'kv-v2'];
/** The auth method types `sys/auth` enables. */
export const authMethodTypes: readonly string[] = ['approle'];

/** What the request path of a node works with. */
export interface RequestServicesOptions {
  readonly secure: SecureStore;
  readonly barrier: Barrier;
  /** Timers (lease expiry, login limits) and monotonic time. */
  readonly clock: DriverClock;
  /** Wall-clock ms since the epoch: request instants, lease and token expiry. */
  readonly wallClockMs: () => number;
  readonly log?: ServerLog;
  readonly system?: SystemTtls;
  readonly requestBytesMax?: number;
  /** Opens audit files (tests inject failing handles). */
  readonly openAuditFile?: OpenAuditFile;
  /** The node's seal, step-down, rotate and key status (sys/ operator routes); none: absent. */
  readonly operator?: OperatorPort;
  /** File audit devices the server config declares: enabled when missing, on becoming active. */
  readonly declaredAuditDevices?: readonly DeclaredAuditDevice[];
  /** How long a stale read waits for the leader's read index (stale_read_point.ts). */
  readonly staleReadWaitMs?: number;
}

/** A file audit device declared in the server config: its name and its options (file_path...). */
export interface DeclaredAuditDevice {
  readonly name: string;
  readonly options: Readonly<Record<string, string>>;
}

/** The engines and methods a node can mount, by type. */
function backendFactories(clock: DriverClock): Record<string, BackendFactory> {
  return {
    kv: createKvBackend,
    'kv-v2': createKvBackend,
    approle: (mount) => createAppRoleBackend(mount, { clock }),
  };
}

function builtinEntry(path: string, type: string): MountEntry {
  return {
    path,
    type,
    uuid: type,
    accessor: `${type}_builtin`,
    description: '',
    defaultLeaseTtlSeconds: 0,
    maxLeaseTtlSeconds: 0,
    options: {},
  };
}

/** The request path of one unsealed node. */
export class RequestServices {
  readonly router: Router<TokenEntry>;
  readonly tokens: TokenStore;
  readonly leases: ExpirationManager;
  readonly policies: PolicyStore;
  readonly audit: AuditBroker;
  readonly mounts: MountTable;
  readonly outcomes: RequestOutcomes;
  readonly #sysView: StorageView;
  readonly #wallClockMs: () => number;
  readonly #declaredAudit: readonly DeclaredAuditDevice[];
  readonly #log: ServerLog;
  #active = false;

  private constructor(options: RequestServicesOptions) {
    const log = options.log ?? silentServerLog;
    this.#log = log;
    // NB: timers fire outside the request that set them (staged_writes.ts).
    const clock = outsideRequests(options.clock);
    this.#declaredAudit = options.declaredAuditDevices ?? [];
    this.#wallClockMs = options.wallClockMs;
    const root = new ReplicatedView(options.secure, '');
    const system = options.system ?? systemTtlsDefault;
    this.#sysView = root.sub('sys/');
    // NB: the callbacks close over fields assigned further down; they run only later.
    this.leases = new ExpirationManager({
      // NB: lease_removals.ts reads this path in applied commands (lease_revoked events).
      storage: root.sub('sys/expire/'),
      clock,
      wallClockMs: options.wallClockMs,
      revokeSecret: (lease) => this.#revokeSecret(lease),
      revokeToken: (tokenKey) => this.tokens.revokeByKey(tokenKey, options.wallClockMs()),
      tokenExists: (tokenKey) => this.tokens.exists(tokenKey),
      logger: { info: log.info.bind(log), warn: log.warn.bind(log) },
    });
    this.tokens = new TokenStore({
      storage: root.sub('auth/token/'),
      hashId: (id) => options.barrier.hmacIdentifier(IdentifierPurpose.token, id),
      leases: this.leases,
      defaults: {
        defaultTtlSeconds: system.defaultLeaseTtlSeconds,
        maxTtlSeconds: system.maxLeaseTtlSeconds,
      },
      renewLogin: (entry, nowMs) => this.#renewLogin(entry, nowMs),
    });
    this.policies = new PolicyStore({ storage: root.sub('sys/policy/') });
    this.audit = new AuditBroker({
      clock: { nowMs: options.wallClockMs },
      logger: {
        warn: (fields, message) => {
          log.warn('audit_device_failed', { ...fields, message });
        },
      },
      ...(options.openAuditFile === undefined ? {} : { openFile: options.openAuditFile }),
    });
    const wrapping = new ResponseWrapping({
      storage: root.sub('sys/wrapping/'),
      tokens: this.tokens,
    });
    this.mounts = new MountTable({
      root,
      factories: backendFactories(clock),
      system,
      builtins: this.#builtins(root, system, { wrapping, operator: options.operator }),
    });
    this.outcomes = new RequestOutcomes({
      secure: options.secure,
      barrier: options.barrier,
      clock,
      wallClockMs: options.wallClockMs,
      logger: log,
    });
    this.router = this.#router(options, wrapping);
  }

  /** The router over this node's mounts, tokens, policies, audit, leases and outcomes. */
  #router(
    options: RequestServicesOptions,
    wrapping: ResponseWrapping<TokenEntry>,
  ): Router<TokenEntry> {
    const log = this.#log;
    return new Router<TokenEntry>({
      mounts: this.mounts,
      outcomes: this.outcomes,
      tokens: this.tokens,
      policies: this.policies,
      audit: this.audit,
      leases: this.leases,
      wrapping,
      readPoint: () => options.secure.readPoint(),
      staleReadPoint: staleReadPoint({
        secure: options.secure,
        clock: options.clock,
        waitMs: options.staleReadWaitMs,
      }),
      wallClockMs: options.wallClockMs,
      ...(options.requestBytesMax === undefined
        ? {}
        : { requestBytesMax: options.requestBytesMax }),
      logger: {
        error: (event, fields) => {
          log.error(event, fields);
        },
      },
    });
  }

  /** The builtin mounts: `sys/` (mounts, policies, audit, leases, wrapping, capabilities) and `auth/token/`. */
  #builtins(
    root: StorageView,
    system: SystemTtls,
    parts: {
      readonly wrapping: ResponseWrapping<TokenEntry>;
      readonly operator: OperatorPort | undefined;
    },
  ): LiveMount[] {
    const { wrapping, operator } = parts;
    const mountsOf = (auth: boolean): readonly Route[] =>
      mountRoutes({
        table: () => this.mounts,
        root,
        cleanup: this.leases,
        auth,
        types: auth ? authMethodTypes : secretsEngineTypes,
      });
    const sysBackend: Backend = {
      // NB: membership markers, audit devices and mount tables commit one by one, in order.
      exactlyOnce: false,
      routes: [
        ...mountsOf(false),
        ...mountsOf(true),
        ...this.policies.backend().routes,
        ...auditRoutes(this.audit),
        ...this.leases.backend().routes,
        ...wrapping.routes(),
        ...capabilitiesRoutes({ policies: this.policies, tokens: this.tokens }),
        ...(operator === undefined ? [] : operatorRoutes(operator)),
      ],
    };
    const builtin = (entry: MountEntry, backend: Backend, storage: StorageView): LiveMount =>
      MountTable.builtin({
        entry,
        backend,
        storage,
        info: {
          ...entry,
          defaultLeaseTtlSeconds: system.defaultLeaseTtlSeconds,
          maxLeaseTtlSeconds: system.maxLeaseTtlSeconds,
        },
      });
    return [
      builtin(builtinEntry('sys/', 'system'), sysBackend, this.#sysView),
      builtin(builtinEntry('auth/token/', 'token'), this.tokens.backend(), root.sub('auth/token/')),
    ];
  }

  /** Asks the auth method that issued a login token whether it may renew. */
  async #renewLogin(entry: TokenEntry, nowMs: number): Promise<void> {
    const mount = (await this.mounts.mounts()).find(
      (m) => m.entry.accessor === entry.mountAccessor,
    );
    await mount?.backend.renewLogin?.({
      storage: mount.storage,
      mount: mount.info,
      internal: entry.internal ?? {},
      nowMs,
    });
  }

  /**
   * Builds the request path and opens the audit devices the state names (fail closed: a device
   * that cannot open fails this, and the node serves nothing until it can).
   */
  static async open(options: RequestServicesOptions): Promise<RequestServices> {
    const services = new RequestServices(options);
    await options.secure.readPoint();
    await services.audit.loadFrom(services.#sysView);
    // NB: before the first request is served, so none runs unaudited by a declared device;
    // one that cannot open fails this, like a stored device that cannot.
    await services.#enableDeclaredAudit({ failClosed: true });
    return services;
  }

  /** Serves one request (never throws). */
  handle(request: CoreRequest): Promise<CoreResponse> {
    return this.router.handle(request);
  }

  /** Whether the expiration manager runs (this node is the active node). */
  get active(): boolean {
    return this.#active;
  }

  /** This node became the active node: start revoking what expires. */
  async becomeActive(): Promise<void> {
    if (!this.#active) {
      this.#active = true;
      // NB: devices enabled through another node while this one stood by.
      await this.audit.loadFrom(this.#sysView);
      await this.#enableDeclaredAudit({ failClosed: false });
      await this.leases.start();
      this.outcomes.start();
    }
  }

  /**
   * Enables the config's declared devices that the state does not hold yet (a device of the
   * same name that an operator enabled or changed is left as it is). A device that cannot
   * open is reported in the server log; with `failClosed` the failure is thrown on.
   */
  async #enableDeclaredAudit(options: { readonly failClosed: boolean }): Promise<void> {
    for (const device of this.#declaredAudit) {
      try {
        const record = fileAuditDeviceRecord(device.options);
        if (await enableAuditDevice(this.audit, this.#sysView, { name: device.name, record })) {
          this.#log.info('audit_device_enabled_from_config', { device: device.name });
        }
      } catch (error) {
        this.#log.error('audit_device_from_config_failed', {
          device: device.name,
          code: error instanceof CoreError ? error.code : 'unexpected',
        });
        if (options.failClosed) {
          throw error;
        }
      }
    }
  }

  /** This node is no longer active (lost leadership, or sealing): stop revoking. */
  async becomeStandby(): Promise<void> {
    if (this.#active) {
      this.#active = false;
      await this.outcomes.stop();
      await this.leases.stop();
    }
  }

  /** Reopens every audit file (SIGHUP, after log rotation); the hash chains continue. */
  reopenAuditFiles(): Promise<void> {
    return this.audit.reopen();
  }

  /** Stops the expiration manager and closes the audit files. */
  async close(): Promise<void> {
    await this.becomeStandby();
    await this.audit.close();
  }

  async #revokeSecret(lease: StoredLease): Promise<void> {
    const uuid = lease.mount?.uuid;
    const mount = uuid === undefined ? undefined : await this.mounts.byUuid(uuid);
    // NB: a lease of a disabled mount has nothing left to revoke at its backend.
    await mount?.backend.revokeSecret?.({
      storage: mount.storage,
      mount: mount.info,
      internal: lease.internal,
      nowMs: this.#wallClockMs(),
    });
  }
}
