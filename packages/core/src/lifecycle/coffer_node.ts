/**
 * CofferNode: one node's lifecycle, tying the seal, the barrier and the replicated state
 * together. It opens the node's stores in its data directory, owns the Barrier and the Raft
 * driver, and moves between these states (docs/design/seal.md, "Node lifecycle"):
 *
 *                     open, state empty: Raft starts at once (a new cluster elects, then init)
 *   ┌──────────────────────────────┐
 *   │                              ▼            init (leader, once per cluster)
 *   │   open  ─────────────▶  uninitialized ─────────────────────────────────┐
 *   │    │ state has a keyring                                              ▼
 *   │    ▼                       T-th verified share (Shamir),          unsealed
 *   └─ sealed (Raft stopped) ───────────────────────────────────────▶ (Raft running)
 *         ▲   │ HSM: auto-unseal with backoff; break-glass shares           │
 *         │   └─────────────────────────────────────────────────────────────┤
 *         └──────────────────────────── seal() ◀─────────────────────────────┘
 *
 * Invariant: a node whose state holds a keyring runs Raft only while unsealed, because
 * CoreStateMachine.restore needs the unsealed barrier (the snapshot HMAC key).
 * Invariant: status() and every message and log line carry no secret: no share, key, PIN or
 * token. Shares and tokens are strings only in init's and generate-root's answers.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

import type { DriverClock, RaftNode } from '@coffer/raft/node';
import { LevelStateStore } from '@coffer/storage';

import { Barrier } from '../barrier/barrier.ts';
import type { KeyringStatus } from '../barrier/keyring.ts';
import { SecretKey } from '../barrier/secret_key.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { JoinGrant, JoinRequest } from '../cluster/cluster_join.ts';
import type { NodeClusterIdentity } from '../cluster/node_cluster_identity.ts';
import type { ServerLog } from '../logging/server_log.ts';
import { Consistency, Operation, type CoreRequest, type CoreResponse } from '../router/request.ts';
import { unsealFromState, type SecureStore } from '../replicated/secure_store.ts';
import { systemStaleReadRefusal } from '../router/stale_read.ts';
import { keyringPath } from '../replicated/system_paths.ts';
import { AttemptLimiter, type AttemptLimiterOptions } from '../seal/attempt_limiter.ts';
import type { Pkcs11SealConfig } from '../seal/pkcs11_config.ts';
import { Pkcs11Seal } from '../seal/pkcs11_seal.ts';
import { silentSealLogger, SealType, type SealLogger } from '../seal/seal_provider.ts';
import { validateShareConfig, type ShareConfig } from '../seal/shamir.ts';
import type { QuorumRefusalCode, ShareQuorum, SubmitOptions } from '../seal/share_quorum.ts';
import { initCluster, type InitRequest, type InitResult } from './cluster_init.ts';
import { GenerateRoot, type GenerateRootProgress, type GenerateRootStep } from './generate_root.ts';
import { HsmAutoUnseal, type AutoUnsealBackoff } from './hsm_auto_unseal.ts';
import { unsealProgressOf, type NodeStatus, type UnsealProgress } from './node_status.ts';
import { RaftRunner, type RaftRunnerOptions } from './raft_runner.ts';
import { RequestServices, type RequestServicesOptions } from './request_services.ts';
import { statusData } from './status_data.ts';
import { proposeRaw } from './raw_state.ts';
import {
  migrationShares,
  migrationTargetOf,
  sealMigrationQuorum,
  type SealMigrationRequest,
  type SealMigrationTarget,
} from './seal_migration.ts';
import type { SealMigrationProgress } from './seal_migration_routes.ts';
import { ClusterMembership } from './cluster_membership.ts';
import { ClusterPresence, type ClusterPresenceOptions } from './cluster_presence.ts';
import { RekeyFlow, type RekeyOutcome, type RekeyProgress, type RekeyStep } from './rekey_flow.ts';
import { serveLifecycle } from './lifecycle_endpoints.ts';
import type { NodeMetrics } from './node_metrics.ts';
import { createRootToken, findToken, type TokenEntry } from './root_token.ts';
import { gatePath, gateRequest, type GateDecision, type GateRequest } from './sealed_gate.ts';
import { SealState, type UnsealKind } from './seal_state.ts';
import { eventsPath } from '../events/event_routes.ts';
import { leaseIdsDeletedBy } from '../events/lease_removals.ts';
import { NodeEvents, type NodeEventsSettings } from '../events/node_events.ts';
import type { SealRecord } from './seal_record.ts';
import { sealRecordPath, wrappedRootKeyPath } from './seal_paths.ts';

/** Which seal a node uses. */
export type NodeSealSetting =
  | { readonly type: typeof SealType.shamir }
  | {
      readonly type: typeof SealType.pkcs11;
      readonly config: Pkcs11SealConfig;
      /** Retry pacing of auto-unseal; defaults 500 ms doubling to 30 s, jittered. */
      readonly backoff?: AutoUnsealBackoff;
    };

/** Everything a node needs; `clock` drives Raft ticks, seal retries and the attempt limiter. */
export interface CofferNodeOptions extends Omit<RaftRunnerOptions, 'clock'> {
  readonly clock: DriverClock;
  readonly seal: NodeSealSetting;
  /** Unseal rate limiting (per node, across unseal, generate-root and break-glass). */
  readonly limiter?: AttemptLimiterOptions;
  /** Where lifecycle and seal events go (non-secret fields only). Default: nowhere. */
  readonly logger?: SealLogger;
  /** The server log of the request path (pino in production). Default: nowhere. */
  readonly serverLog?: ServerLog;
  /** Request path settings: system TTLs, the body limit, audit file opening (tests). */
  readonly requests?: Pick<
    RequestServicesOptions,
    'system' | 'requestBytesMax' | 'openAuditFile' | 'declaredAuditDevices' | 'staleReadWaitMs'
  >;
  /** The node's identity on the cluster port (certificate lifetime, appearance callback). */
  readonly cluster?: ClusterPresenceOptions;
  /**
   * A fresh node (no keyring, no Raft log) waits for init or a join before it starts Raft, as
   * servers do: a node that will join must not first make a cluster of its own. Default false:
   * a fresh node starts Raft at once as its configured voters (in-process tests).
   */
  readonly awaitInitOrJoin?: boolean;
  /**
   * Joins this node to the cluster of a join token (the server's network side of a join);
   * without it, sys/storage/raft/join is refused.
   */
  readonly joinWithToken?: (token: string) => Promise<void>;
  /**
   * Sends a standby's request to the active node (the server's cluster channel), keeping its
   * request id and client address; without it, a standby answers COFFER_CORE_NOT_ACTIVE.
   */
  readonly forward?: (request: CoreRequest) => Promise<CoreResponse>;
  /**
   * The PKCS#11 seal a migration started over the API (sys/seal-migration/init) moves to: the
   * server config's `seal_migration_target`, so no HSM setting or PIN travels in a request.
   */
  readonly sealMigrationTarget?: Pkcs11SealConfig;
  /** The event journal behind `sys/events` (retention, poll wait cap); defaults apply. */
  readonly events?: NodeEventsSettings;
}

/** The voter other than this leader whose log matches it furthest (the best successor). */
function mostCaughtUpVoter(node: RaftNode): number | undefined {
  const status = node.raw.status();
  let best: { readonly id: number; readonly match: number } | undefined;
  for (const voter of status.confState.voters) {
    const match = node.raw.raft.progress.get(voter)?.match ?? 0;
    if (voter !== status.id && (best === undefined || match > best.match)) {
      best = { id: voter, match };
    }
  }
  return best?.id;
}

/**
 * Whether a standby serves request itself: a plain read or list (no wrapping, which writes)
 * outside `sys/`, whose routes report the active node's own state (leases it expires, audit
 * devices, Raft). docs/design/cluster.md §6.
 */
function readsOnStandby(request: CoreRequest): boolean {
  return (
    (request.operation === Operation.read || request.operation === Operation.list) &&
    request.wrapTtlSeconds === undefined &&
    (!gatePath(request.path).startsWith('sys/') || gatePath(request.path) === eventsPath)
  );
}

/** request without its consistency option (forwarded requests carry none). */
function linearizable<R extends CoreRequest>(request: R): Omit<R, 'consistency'> {
  const { consistency, ...rest } = request;
  return consistency === undefined ? request : rest;
}

/** How long a request waits for a new leader to apply its no-op, and how often it looks. */
const notReadyWaitMs = 1000;
const notReadyPollMs = 2;

/**
 * How long a peer's refusal of this node as no member counts: the cluster channel's reconnect
 * backoff (at most 5 s) repeats a removed node's refusals well within it.
 */
const refusalFreshMs = 15_000;

/** How often a node checks whether it is the active node (lease expiry runs only there). */
const activeCheckIntervalMs = 1000;
/** How often a joined HSM node looks for the replicated seal records. */
const joinedSealPollMs = 250;

/** The outcome of one submitted share. */
export type UnsealStep =
  | { readonly ok: true; readonly sealed: boolean; readonly progress: UnsealProgress | undefined }
  | {
      readonly ok: false;
      readonly code: QuorumRefusalCode;
      readonly message: string;
      readonly progress: UnsealProgress;
      readonly retryAfterMs?: number;
    };

/** One Coffer node. Create it with {@link CofferNode.open}; close it with `close()`. */
export class CofferNode {
  readonly #options: CofferNodeOptions;
  readonly #store: LevelStateStore;
  readonly #barrier = new Barrier();
  readonly #logger: SealLogger;
  readonly #hsm: Pkcs11Seal | undefined;
  readonly #raft: RaftRunner;
  readonly #presence: ClusterPresence;
  /** This process's cluster events (sys/events), kept across seal and unseal. */
  readonly #events: NodeEvents;
  /** Join tokens, admitting joiners, joining, the peer list. */
  readonly membership: ClusterMembership;
  readonly #sealState: SealState;
  readonly #generateRoot: GenerateRoot;
  readonly #rekey: RekeyFlow;
  readonly #migration: RekeyFlow;
  /** The seal the running (or last) migration attempt moves to. */
  #migrationTarget: SealType = SealType.shamir;
  readonly #limiter: AttemptLimiter;
  #quorum: { readonly kind: UnsealKind; readonly quorum: ShareQuorum<SecretKey> } | undefined;
  #autoUnseal: HsmAutoUnseal | undefined;
  #closed = false;
  #initRunning = false;
  #services: Promise<RequestServices> | undefined;
  #activeCheck: { cancel(): void } | undefined;
  /** The check of a joined HSM node for the replicated seal records (undefined when none). */
  #joinedSealCheck: { cancel(): void } | undefined;
  #sealRequested = false;
  /**
   * Voters that refused this node on the cluster port as no member (COFFER_CORE_REMOVED), with
   * when they last did: a refusal older than {@link refusalFreshMs} no longer counts, so a node
   * admitted again is not held for removed by what peers said before they applied it.
   */
  readonly #refusedBy = new Map<number, number>();
  #leaderSeen = 0;
  #leaderChanges = 0;
  #forwardedRequests = 0;
  /** Reads this node served as a standby (after a ReadIndex round). */
  #standbyReads = 0;
  /** The request path once it has opened (for metrics); undefined while it opens or is stopped. */
  #servicesNow: RequestServices | undefined;

  private constructor(options: CofferNodeOptions, store: LevelStateStore) {
    this.#options = options;
    this.#store = store;
    this.#logger = options.logger ?? silentSealLogger;
    this.#hsm =
      options.seal.type === SealType.pkcs11
        ? new Pkcs11Seal(options.seal.config, { logger: this.#logger })
        : undefined;
    this.#events = new NodeEvents(options.events ?? {}, {
      clock: options.clock,
      wallClockMs: options.wallClockMs,
      peerHealth: () => this.#peerHealth(),
    });
    this.#raft = new RaftRunner(
      {
        ...options,
        onLeaderChange: (change) => {
          if (change.leaderId !== this.#leaderSeen) {
            this.#leaderSeen = change.leaderId;
            this.#leaderChanges += 1;
          }
          this.#events.leaderChanged(change);
          options.onLeaderChange?.(change);
        },
        onApplied: (command) => {
          for (const leaseId of leaseIdsDeletedBy(command)) {
            this.#events.leaseRevoked(leaseId);
          }
        },
      },
      { store, barrier: this.#barrier },
    );
    this.#presence = new ClusterPresence(options.cluster ?? {}, {
      nodeId: options.id,
      clock: options.clock,
      wallClockMs: options.wallClockMs,
      logger: this.#logger,
      clusterId: () => this.#sealState.maybeRecord()?.clusterId,
      isActive: () => this.#isActive(),
      mayPromote: (nodeId) => this.membership.mayPromote(nodeId),
      removeMember: (nodeId) => this.membership.changeMember('remove', nodeId),
    });
    this.membership = this.#membershipOf(options, store);
    const limiter = new AttemptLimiter(options.clock, options.limiter);
    this.#limiter = limiter;
    this.#sealState = new SealState({ store, configured: options.seal.type, limiter });
    this.#generateRoot = new GenerateRoot({
      createQuorum: () => this.#sealState.generateRootQuorum(),
      release: (value) => {
        if (value instanceof SecretKey) {
          value.zero();
        }
      },
      issueToken: () =>
        createRootToken(this.#requireRunning().secure, {
          barrier: this.#barrier,
          nowMs: this.#options.wallClockMs(),
        }),
    });
    this.#migration = new RekeyFlow({
      what: 'seal migration',
      store: (outcome) => this.#storeRekey(outcome),
    });
    this.#rekey = new RekeyFlow({
      what: 'rekey',
      store: (outcome) => this.#storeRekey(outcome),
    });
  }

  /** Stores a verified rekey's writes through Raft; a lost check-and-set throws. */
  async #storeRekey(outcome: RekeyOutcome): Promise<void> {
    const written = await proposeRaw(
      this.#requireRunning().node,
      { kind: 'transaction', conditions: outcome.conditions, operations: outcome.operations },
      'store the rekeyed seal',
    );
    if (!written.applied) {
      throw new CoreError(
        CoreErrorCode.writeRefused,
        'Start the rekey again: the seal changed while it ran (another rekey or a migration); ' +
          'the current shares stay valid',
      );
    }
  }

  /**
   * Opens the node's stores under `options.dataDir`. A node with an empty state starts Raft at
   * once; one whose state holds a keyring stays sealed, with Raft stopped, until it is unsealed
   * (an HSM node starts unsealing itself in the background).
   */
  static async open(options: CofferNodeOptions): Promise<CofferNode> {
    const store = await LevelStateStore.open(join(options.dataDir, 'state'));
    let node: CofferNode;
    try {
      node = new CofferNode(options, store);
    } catch (error) {
      // NB: a bad seal config; release the state directory's lock before reporting it.
      await store.close();
      throw error;
    }
    if (store.get(keyringPath) !== undefined) {
      node.#startAutoUnseal();
      return node;
    }
    if (options.awaitInitOrJoin === true && !node.#raft.hasLog()) {
      return node;
    }
    try {
      await node.#raft.start();
    } catch (error) {
      await node.close();
      throw error;
    }
    return node;
  }

  /** The node's status: safe to show unauthenticated. Never throws. */
  status(): NodeStatus {
    const record = this.#sealState.maybeRecord();
    const sealType = this.#options.seal.type;
    return {
      initialized: this.#store.get(keyringPath) !== undefined,
      sealed: this.#barrier.isSealed,
      sealType,
      storedSealType: record !== undefined && record.type !== sealType ? record.type : undefined,
      clusterId: record?.clusterId,
      raftRunning: this.#raft.current !== undefined,
      unseal: sealType === SealType.shamir ? this.#unsealProgress(record) : undefined,
      seal: this.#hsm?.status(),
      autoUnsealFailure: this.#autoUnseal?.failure(),
      sealMigrationRunning: this.#migration.progress() !== undefined,
    };
  }

  #unsealProgress(record: SealRecord | undefined): UnsealProgress | undefined {
    if (this.#quorum !== undefined) {
      return unsealProgressOf(this.#quorum.quorum.progress());
    }
    if (record === undefined) {
      return undefined;
    }
    return { ...record.shares, progress: 0, nonce: undefined };
  }

  /** The first stage of the router: while sealed, only status, init, unseal and health pass. */
  gate(request: GateRequest): GateDecision {
    return gateRequest(request, { sealed: this.#barrier.isSealed });
  }

  /**
   * Serves one request through the router: the sealed gate first (a sealed node answers only
   * seal-status and health, and those never reach the audit log), then the request path.
   * Never throws.
   */
  async handle(
    request: CoreRequest,
    options: { readonly forwarded?: boolean } = {},
  ): Promise<CoreResponse> {
    const requestId = typeof request.requestId === 'string' ? request.requestId : randomUUID();
    if (typeof request.path !== 'string' || typeof request.operation !== 'string') {
      return {
        ok: false,
        requestId,
        code: CoreErrorCode.invalidRequest,
        message: 'Send the operation and the path as strings',
      };
    }
    const path = gatePath(request.path);
    const staleRefusal = systemStaleReadRefusal({ consistency: request.consistency, path });
    if (staleRefusal !== undefined) {
      return { ok: false, requestId, code: staleRefusal.code, message: staleRefusal.message };
    }
    const status = request.operation === Operation.read ? this.#statusAnswer(path) : undefined;
    if (status !== undefined) {
      return { ok: true, requestId, data: status };
    }
    const data: unknown = request.data ?? {};
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      return {
        ok: false,
        requestId,
        code: CoreErrorCode.invalidRequest,
        message: 'Send the request data as an object of fields',
      };
    }
    const lifecycle = serveLifecycle(this, {
      operation: request.operation,
      path,
      data: data as Record<string, unknown>,
      requestId,
      status: () => statusData(this.status(), this.#isActive()),
    });
    if (lifecycle !== undefined) {
      return lifecycle;
    }
    const decision = this.gate({ operation: request.operation, path: request.path });
    if (!decision.ok) {
      return { ok: false, requestId, code: decision.code, message: decision.message };
    }
    const elsewhere = await this.#servedElsewhere({ ...request, requestId }, options);
    if (elsewhere === 'read_here') {
      return this.#readOnStandby({ ...request, requestId }, options);
    }
    if (elsewhere !== undefined) {
      return elsewhere;
    }
    return this.#serveHere(request, requestId);
  }

  /**
   * A read on a standby, served from its own state after a ReadIndex round with the leader
   * (the router's read point), so it is linearizable and its token and policy checks see every
   * revocation the leader acknowledged. A read that turns out to need a write (a use-limited
   * token spends a use) is refused NOT_ACTIVE by this node's state, and goes to the active node.
   */
  async #readOnStandby(
    request: CoreRequest & { readonly requestId: string },
    options: { readonly forwarded?: boolean },
  ): Promise<CoreResponse> {
    this.#standbyReads += 1;
    const response = await this.#serveHere(request, request.requestId);
    const forward = this.#options.forward;
    if (
      response.ok ||
      response.code !== CoreErrorCode.notActive ||
      forward === undefined ||
      options.forwarded === true
    ) {
      return response;
    }
    this.#forwardedRequests += 1;
    // NB: the active node serves it linearizably: a read that reaches it has a leader.
    return forward(linearizable(request));
  }

  /** Serves request through this node's request path (the router). */
  async #serveHere(request: CoreRequest, requestId: string): Promise<CoreResponse> {
    let services: RequestServices;
    try {
      services = await this.#requestServices();
    } catch (error) {
      const code = error instanceof CoreError ? error.code : CoreErrorCode.internal;
      return {
        ok: false,
        requestId,
        code,
        message:
          error instanceof CoreError
            ? error.message
            : 'Retry later: the request path could not start (the server log has details)',
      };
    }
    // NB: an id this node made is no id the caller can resend: no exactly-once for it.
    const response = await services.handle(
      request.requestId === undefined ? request : { ...request, requestId },
    );
    if (this.#sealRequested) {
      // NB: sys/seal asked for it; sealing waits until its response line was audited.
      this.#sealRequested = false;
      await this.seal();
    }
    return response;
  }

  /** Non-secret gauges for the metrics endpoint: seal state, Raft progress, audit failures. */
  metrics(): NodeMetrics {
    const status = this.#raft.current?.node.raw.status();
    const services = this.#servicesNow;
    let auditFailures = 0;
    for (const count of services?.audit.failureCounts().values() ?? []) {
      auditFailures += count;
    }
    return {
      sealed: this.#barrier.isSealed,
      initialized: this.#store.get(keyringPath) !== undefined,
      active: this.#isActive(),
      raft:
        status === undefined
          ? undefined
          : {
              term: status.hardState.term,
              commitIndex: status.hardState.commit,
              appliedIndex: status.applied,
              leaderId: status.softState.leader,
            },
      auditFailures,
      leaderChanges: this.#leaderChanges,
      forwardedRequests: this.#forwardedRequests,
      standbyReads: this.#standbyReads,
    };
  }

  /** The unauthenticated status reads: seal-status and health, and sys/leader. */
  #statusAnswer(path: string): Record<string, unknown> | undefined {
    if (path === 'sys/seal-status' || path === 'sys/health') {
      return statusData(this.status(), this.#isActive());
    }
    return path === 'sys/leader' ? this.#leaderData() : undefined;
  }

  /**
   * Vault's sys/leader: who leads and where, and this node's Raft progress. Unauthenticated,
   * like seal-status: it holds addresses and counters, never a secret.
   */
  #leaderData(): Record<string, unknown> {
    const status = this.#raft.current?.node.raw.status();
    const leaderId = status?.softState.leader ?? 0;
    const leader = leaderId === 0 ? undefined : this.membership.addressesOf(leaderId);
    return {
      ha_enabled: this.#options.cluster?.advertise !== undefined,
      is_self: this.#isActive(),
      leader_id: leaderId,
      leader_address: leader?.apiAddress ?? '',
      leader_cluster_address: leader?.clusterAddress ?? '',
      raft_term: status?.hardState.term ?? 0,
      raft_committed_index: status?.hardState.commit ?? 0,
      raft_applied_index: status?.applied ?? 0,
    };
  }

  /** Hands leadership to another voter; a warning when this node is the only one. */
  #stepDown(): Promise<string | undefined> {
    const node = this.#raft.current?.node;
    const next = node === undefined ? undefined : mostCaughtUpVoter(node);
    if (node === undefined || next === undefined) {
      return Promise.resolve('This node is the only voter, so it stays the active node');
    }
    if (!node.transferLeadership(next).ok) {
      return Promise.reject(
        new CoreError(
          CoreErrorCode.notActive,
          'Retry the step-down: leadership could not be handed over right now',
        ),
      );
    }
    return Promise.resolve(undefined);
  }

  /**
   * Before the process exits (SIGTERM): a leader hands leadership to its most caught-up voter
   * and waits, within `waitMs`, until it no longer leads, so clients see a handover instead of
   * an election timeout. Resolves whether or not it managed.
   */
  async handOverLeadership(waitMs: number): Promise<boolean> {
    const node = this.#raft.current?.node;
    const next = node === undefined ? undefined : mostCaughtUpVoter(node);
    if (node?.raw.status().softState.role !== 'leader' || next === undefined) {
      return false;
    }
    if (!node.transferLeadership(next).ok) {
      return false;
    }
    const clock = this.#options.clock;
    const deadline = clock.nowMs() + waitMs;
    while (node.raw.status().softState.role === 'leader' && clock.nowMs() < deadline) {
      await new Promise<void>((resolve) => {
        clock.setTimer(notReadyPollMs, resolve);
      });
    }
    return node.raw.status().softState.role !== 'leader';
  }

  /** Reopens the audit files (SIGHUP after log rotation); the hash chains continue. */
  async reopenAuditFiles(): Promise<void> {
    await (await this.#services)?.reopenAuditFiles();
  }

  /** The request path, built once per unseal; starts the active-node check. */
  #requestServices(): Promise<RequestServices> {
    const running = this.#requireRunning();
    this.#services ??= RequestServices.open({
      secure: running.secure,
      barrier: this.#barrier,
      clock: this.#options.clock,
      wallClockMs: this.#options.wallClockMs,
      ...(this.#options.serverLog === undefined ? {} : { log: this.#options.serverLog }),
      ...this.#options.requests,
      operator: {
        requestSeal: () => {
          this.#sealRequested = true;
        },
        stepDown: () => this.#stepDown(),
        rotate: () => this.rotateKeyring(),
        keyStatus: () => this.keyStatus(),
        joinToken: (ttlMs) => this.membership.createJoinToken(ttlMs === undefined ? {} : { ttlMs }),
        peers: () => this.membership.peers(),
        changeMember: (change, nodeId) => this.membership.changeMember(change, nodeId),
        rotateCa: () => this.membership.rotateAuthority(),
        autopilotState: () => this.membership.autopilotState(),
        startSealMigration: (request) => this.startConfiguredSealMigration(request),
        submitSealMigrationShare: (share, options) => this.submitSealMigrationShare(share, options),
        sealMigrationProgress: () => this.sealMigrationProgress(),
        cancelSealMigration: () => {
          this.cancelSealMigration();
        },
        events: this.#events.port,
      },
    }).then(
      (services) => {
        this.#servicesNow = services;
        this.#watchActive(services);
        return services;
      },
      (error: unknown) => {
        this.#services = undefined;
        throw error;
      },
    );
    return this.#services;
  }

  /** The node's membership operations, on its Raft, presence, store and barrier. */
  #membershipOf(options: CofferNodeOptions, store: LevelStateStore): ClusterMembership {
    return new ClusterMembership({
      raft: this.#raft,
      presence: this.#presence,
      store,
      barrier: this.#barrier,
      clock: options.clock,
      wallClockMs: options.wallClockMs,
      settings: options.cluster ?? {},
      isActive: () => this.#isActive(),
      isRemoved: () => this.#role() === 'removed',
      readmitted: () => {
        this.#refusedBy.clear();
      },
      joined: () => {
        this.#autoUnsealOnceReplicated();
      },
    });
  }

  /** Starts or stops lease expiry as this node becomes or stops being the active node. */
  #watchActive(services: RequestServices): void {
    const check = (): void => {
      const active = this.#isActive();
      if (active !== services.active) {
        (active ? services.becomeActive() : services.becomeStandby()).catch((error: unknown) => {
          this.#logger.warn('lease_expiry_switch_failed', {
            error: error instanceof CoreError ? error.code : 'unexpected',
          });
        });
      }
      this.#activeCheck = this.#options.clock.setTimer(activeCheckIntervalMs, check);
    };
    check();
  }

  #isActive(): boolean {
    return this.#role() === 'active';
  }

  /** Each member's health as autopilot sees it, on the active node only (peer_health events). */
  #peerHealth(): ReadonlyMap<number, boolean> | undefined {
    if (!this.#isActive()) {
      return undefined;
    }
    const servers = Object.values(this.membership.autopilotState().servers);
    return new Map(servers.map((server) => [Number(server.id), server.healthy]));
  }

  /**
   * The answer of a node that is not the active node: NOT_READY while it leads but has not
   * applied its no-op; on a standby, the active node's answer through `forward`, or NOT_ACTIVE.
   * Undefined on the active node, which serves the request itself.
   */
  async #servedElsewhere(
    request: CoreRequest & { readonly requestId: string },
    options: { readonly forwarded?: boolean },
  ): Promise<CoreResponse | 'read_here' | undefined> {
    const { requestId } = request;
    const role = await this.#settledRole();
    if (role === 'not_ready') {
      return {
        ok: false,
        requestId,
        code: CoreErrorCode.notReady,
        message: 'Retry in a moment: this node has just become the leader and is catching up',
      };
    }
    if (role === 'removed') {
      return {
        ok: false,
        requestId,
        code: CoreErrorCode.removed,
        message:
          'Send the request to another node: this node was removed from the cluster (join it again with a new join token)',
      };
    }
    // NB: a stale read never leaves this node: it must answer while no leader does, and one
    // that may not be stale is refused by this node's router before anything runs.
    if (
      role === 'standby' &&
      (readsOnStandby(request) || request.consistency === Consistency.stale)
    ) {
      return 'read_here';
    }
    if (role === 'standby') {
      // NB: a standby's clock may lag and it cannot write, so it serves reads only (after a
      // ReadIndex round): everything else goes to the active node (with the request id, for a
      // retry there), unless the request was forwarded to it already.
      const forward = this.#options.forward;
      if (forward !== undefined && options.forwarded !== true) {
        this.#forwardedRequests += 1;
        return await forward(request);
      }
      return {
        ok: false,
        requestId,
        code: CoreErrorCode.notActive,
        message: 'Send the request to the active node: this node is a standby',
      };
    }
    return undefined;
  }

  /**
   * The node's role, after waiting a little for a leader that is not ready yet: it applies its
   * no-op within a few milliseconds, and a request that waits that long is better than a retry.
   */
  async #settledRole(): Promise<'active' | 'not_ready' | 'standby' | 'removed'> {
    const clock = this.#options.clock;
    const deadline = clock.nowMs() + notReadyWaitMs;
    let role = this.#role();
    while (role === 'not_ready' && clock.nowMs() < deadline) {
      await new Promise<void>((resolve) => {
        clock.setTimer(notReadyPollMs, resolve);
      });
      role = this.#role();
    }
    return role;
  }

  /**
   * What this node is for requests (docs/design/cluster.md §4): active once it leads AND has
   * applied an entry of its own term (its no-op), so its state holds everything an earlier
   * leader acknowledged; 'not_ready' while it leads without that; a standby otherwise.
   */
  #role(): 'active' | 'not_ready' | 'standby' | 'removed' {
    const node = this.#raft.current?.node;
    if (node === undefined || this.#barrier.isSealed) {
      return 'standby';
    }
    const raft = node.raw.raft;
    const conf = node.raw.status().confState;
    const since = this.#options.clock.nowMs() - refusalFreshMs;
    const refusals = conf.voters.filter(
      (id) => (this.#refusedBy.get(id) ?? -Infinity) >= since,
    ).length;
    if (
      ![...conf.voters, ...conf.learners].some((id) => id === node.id) ||
      refusals > conf.voters.length / 2
    ) {
      // NB: it applied its own removal, or a majority of the voters it knows say it is no
      // member: no leader will talk to it, and what it holds goes stale.
      return 'removed';
    }
    if (node.raw.status().softState.role !== 'leader') {
      return 'standby';
    }
    return raft.log.term(raft.log.applied) === raft.term ? 'active' : 'not_ready';
  }

  /** Stops the request path (seal, close): lease expiry stops, audit files close. */
  async #stopRequestServices(): Promise<void> {
    this.#activeCheck?.cancel();
    this.#activeCheck = undefined;
    const services = this.#services;
    this.#services = undefined;
    this.#servicesNow = undefined;
    await (await services?.catch(() => undefined))?.close();
  }

  /**
   * A peer refused this node on the cluster port as no member (the server's cluster port
   * reports it). While a majority of the voters this node knows keep doing so, it serves
   * nothing and answers COFFER_CORE_REMOVED; `coffer operator raft join` admits it again.
   */
  refusedAsNonMember(peerId: number): void {
    const known = this.#refusedBy.has(peerId);
    this.#refusedBy.set(peerId, this.#options.clock.nowMs());
    if (!known) {
      this.#logger.warn('cluster_peer_says_not_member', { peerId });
    }
  }

  /** Joins the cluster of `token` (lifecycle endpoint sys/storage/raft/join). */
  async joinWithToken(token: string): Promise<void> {
    const join = this.#options.joinWithToken;
    if (join === undefined) {
      throw new CoreError(
        CoreErrorCode.joinRefused,
        'Configure the cluster port (the cluster section) first: this node cannot join without one',
      );
    }
    await join(token);
  }

  /** Answers a joiner (lifecycle endpoint sys/storage/raft/bootstrap/join; active node only). */
  acceptJoin(request: JoinRequest): Promise<JoinGrant> {
    return this.membership.acceptJoin(request);
  }

  /** This node's identity on the cluster port while it is unsealed and holds a certificate. */
  get clusterIdentity(): NodeClusterIdentity | undefined {
    return this.#presence.identity;
  }

  /** The Raft driver while it runs (tests use it to find the leader). */
  get raftNode(): RaftNode | undefined {
    return this.#raft.current?.node;
  }

  /** The encrypted store; throws COFFER_CORE_SEALED unless the node is unsealed and running. */
  get secureStore(): SecureStore {
    return this.#requireRunning().secure;
  }

  #requireRunning(): { readonly node: RaftNode; readonly secure: SecureStore } {
    const running = this.#raft.current;
    if (running === undefined || this.#barrier.isSealed) {
      throw new CoreError(
        CoreErrorCode.sealed,
        'Unseal the node first: it is sealed, so it serves no request',
      );
    }
    return running;
  }

  /**
   * Initializes the cluster (on the leader of a fresh cluster, once). Returns the shares and
   * the root token, which exist nowhere else: deliver them, never log them.
   */
  async init(request: InitRequest = {}): Promise<InitResult> {
    const fresh = this.#store.get(keyringPath) === undefined && !this.#raft.hasLog();
    // NB: a fresh node awaiting init or join starts Raft now, as the sole voter it is.
    const running =
      this.#raft.current ??
      (fresh && this.#options.awaitInitOrJoin === true ? await this.#raft.start() : undefined);
    if (this.#store.get(keyringPath) !== undefined || running === undefined) {
      throw new CoreError(
        CoreErrorCode.alreadyInitialized,
        'Unseal with the shares of the first init instead: this cluster is already initialized',
      );
    }
    if (this.#initRunning) {
      throw new CoreError(
        CoreErrorCode.attemptInvalid,
        'Wait for the running init to finish: only one init runs at a time',
      );
    }
    this.#initRunning = true;
    let result: InitResult;
    try {
      result = await initCluster(
        {
          ...running,
          store: this.#store,
          barrier: this.#barrier,
          hsm: this.#hsm,
          nowMs: this.#options.wallClockMs(),
          logger: this.#logger,
        },
        request,
      );
    } finally {
      this.#initRunning = false;
    }
    this.#presence.start(running);
    this.#logger.info('cluster_initialized', {
      clusterId: result.clusterId,
      sealType: result.sealType,
    });
    return result;
  }

  /**
   * Submits one unseal share (Shamir seal). At the threshold the shares are verified against
   * the stored root key; then the barrier is unsealed and Raft starts. Wrong, foreign and
   * repeated-index share sets all fail with the same COFFER_CORE_UNSEAL_FAILED.
   */
  submitUnsealShare(share: string, options: SubmitOptions = {}): Promise<UnsealStep> {
    return this.#submit('unseal', share, options);
  }

  /**
   * Submits one break-glass share (HSM seal initialized with break-glass): recovers the root
   * key without the HSM and unseals, for when the token is gone for good.
   */
  submitBreakGlassShare(share: string, options: SubmitOptions = {}): Promise<UnsealStep> {
    return this.#submit('break-glass', share, options);
  }

  /** Drops the current unseal attempt and its shares. */
  resetUnseal(): void {
    this.#quorum?.quorum.reset();
    this.#quorum = undefined;
  }

  async #submit(kind: UnsealKind, share: string, options: SubmitOptions): Promise<UnsealStep> {
    if (!this.#barrier.isSealed) {
      return { ok: true, sealed: false, progress: undefined };
    }
    if (this.#quorum?.kind !== kind) {
      this.resetUnseal();
      this.#quorum = { kind, quorum: this.#sealState.unsealQuorum(kind) };
    }
    const step = await this.#quorum.quorum.submit(share, options);
    const progress = unsealProgressOf(step.progress);
    if (!step.ok) {
      const refusal = { ok: false as const, code: step.code, message: step.message, progress };
      return step.retryAfterMs === undefined
        ? refusal
        : { ...refusal, retryAfterMs: step.retryAfterMs };
    }
    if (!step.done) {
      return { ok: true, sealed: true, progress };
    }
    this.#quorum = undefined;
    await this.#unsealWith(step.value);
    return { ok: true, sealed: false, progress: undefined };
  }

  /** Unseals the barrier with `rootKey` (taking it) and starts Raft. */
  async #unsealWith(rootKey: SecretKey): Promise<void> {
    if (!this.#barrier.isSealed) {
      rootKey.zero();
      return;
    }
    unsealFromState({ store: this.#store, barrier: this.#barrier }, rootKey);
    this.#events.unsealed();
    // NB: cancel, not stop: this may run inside the auto-unseal loop, which stop() awaits.
    this.#autoUnseal?.cancel();
    this.#presence.start(await this.#raft.start());
    this.#logger.info('node_unsealed', { sealType: this.#options.seal.type });
  }

  /**
   * A fresh HSM node that joined unseals itself, with no human, once its replica holds the
   * cluster's keyring and HSM-wrapped root key (they come by snapshot or log): checked every
   * {@link joinedSealPollMs} on the node's clock until then, or until the node is sealed or
   * closed.
   */
  #autoUnsealOnceReplicated(): void {
    if (this.#options.seal.type !== SealType.pkcs11 || this.#hsm === undefined) {
      return;
    }
    const check = (): void => {
      this.#joinedSealCheck = undefined;
      if (this.#closed || !this.#barrier.isSealed || this.#autoUnseal !== undefined) {
        return;
      }
      const replicated = [keyringPath, sealRecordPath, wrappedRootKeyPath].every(
        (path) => this.#store.get(path) !== undefined,
      );
      if (replicated) {
        this.#logger.info('joined_node_auto_unsealing', {});
        this.#startAutoUnseal();
        return;
      }
      this.#joinedSealCheck = this.#options.clock.setTimer(joinedSealPollMs, check);
    };
    check();
  }

  #startAutoUnseal(): void {
    const setting = this.#options.seal;
    const hsm = this.#hsm;
    if (setting.type !== SealType.pkcs11 || hsm === undefined) {
      return;
    }
    const autoUnseal = new HsmAutoUnseal({
      seal: hsm,
      backoff: { ...setting.backoff, clock: this.#options.clock },
      logger: this.#logger,
      stored: () => this.#sealState.hsmWrappedRootKey(),
      onRootKey: (rootKey) => this.#unsealWith(rootKey),
    });
    this.#autoUnseal = autoUnseal;
    autoUnseal.start();
  }

  /**
   * The keyring's status (Vault's sys/key-status): active term, its install time and
   * encryption count, every term held. Throws COFFER_CORE_SEALED while sealed.
   */
  keyStatus(): KeyringStatus {
    this.#requireRunning();
    return this.#barrier.keyringStatus();
  }

  /** Rotates the keyring to a new term now (Vault's sys/rotate); old terms keep decrypting. */
  rotateKeyring(): Promise<void> {
    return this.#requireRunning().secure.rotate();
  }

  /** The entry of token `id` (read through the barrier), or undefined when there is none. */
  findToken(id: string): Promise<TokenEntry | undefined> {
    return findToken(this.#requireRunning().secure, { barrier: this.#barrier, id });
  }

  /** Starts a root token generation for the requester's one-time key (see generate_root.ts). */
  startGenerateRoot(otp: string): GenerateRootProgress {
    this.#requireRunning();
    return this.#generateRoot.start(otp);
  }

  /** Submits one share (unseal shares, or recovery shares with an HSM seal) of the attempt. */
  submitGenerateRootShare(
    share: string,
    options: { readonly nonce: string },
  ): Promise<GenerateRootStep> {
    this.#requireRunning();
    return this.#generateRoot.submit(share, options);
  }

  /** The running generate-root attempt, or undefined. */
  generateRootProgress(): GenerateRootProgress | undefined {
    return this.#generateRoot.progress();
  }

  /** Cancels the running generate-root attempt. */
  cancelGenerateRoot(): void {
    this.#generateRoot.cancel();
  }

  /**
   * Starts a rekey to `next` (new unseal shares, or new recovery shares with an HSM seal),
   * authorized by a quorum of the current shares. Needs an unsealed, active node.
   */
  startRekey(next: ShareConfig): RekeyProgress {
    this.#requireRunning();
    validateShareConfig(next);
    return this.#rekey.start(next, this.#sealState.rekeyQuorum(next));
  }

  /**
   * Submits one current share of the rekey. The last one stores the new blob (through Raft)
   * and only then returns the new shares.
   */
  submitRekeyShare(share: string, options: { readonly nonce: string }): Promise<RekeyStep> {
    this.#requireRunning();
    return this.#rekey.submit(share, options);
  }

  /** The running rekey, or undefined. */
  rekeyProgress(): RekeyProgress | undefined {
    return this.#rekey.progress();
  }

  /** Cancels the running rekey; the current shares stay valid. */
  cancelRekey(): void {
    this.#rekey.cancel();
  }

  /**
   * Starts a seal migration to `target` (Shamir → PKCS#11 or back), authorized by a quorum of
   * the current shares (unseal shares, or recovery shares with an HSM seal). Needs an unsealed,
   * active node. When it completes, reopen the node with the new seal config.
   */
  startSealMigration(target: SealMigrationTarget): RekeyProgress {
    this.#requireRunning();
    if (this.#migration.progress() !== undefined) {
      throw new CoreError(
        CoreErrorCode.sealMigrationRunning,
        'Finish the running seal migration or cancel it first: only one runs at a time',
      );
    }
    const quorum = sealMigrationQuorum(
      {
        store: this.#store,
        sealState: this.#sealState,
        limiter: this.#limiter,
        hsm: this.#hsm,
        logger: this.#logger,
      },
      target,
    );
    const progress = this.#migration.start(migrationShares(target), quorum);
    this.#migrationTarget = target.type;
    return progress;
  }

  /**
   * Starts a seal migration as the API asks for it (sys/seal-migration/init): a PKCS#11 target
   * is the one this node's config names (`sealMigrationTarget`), never one from the request.
   */
  startConfiguredSealMigration(request: SealMigrationRequest): SealMigrationProgress {
    const progress = this.startSealMigration(
      migrationTargetOf(request, this.#options.sealMigrationTarget),
    );
    return { ...progress, target: this.#migrationTarget };
  }

  /** The running seal migration and the seal it moves to, or undefined. */
  sealMigrationProgress(): SealMigrationProgress | undefined {
    const progress = this.#migration.progress();
    return progress === undefined ? undefined : { ...progress, target: this.#migrationTarget };
  }

  /**
   * Submits one current share of the migration. The last one wraps the root key with the new
   * seal, stores the new records through Raft and only then returns the new shares (recovery
   * shares for an HSM target, unseal shares for a Shamir one).
   */
  submitSealMigrationShare(share: string, options: { readonly nonce: string }): Promise<RekeyStep> {
    this.#requireRunning();
    return this.#migration.submit(share, options);
  }

  /** Cancels the running seal migration; nothing changed. */
  cancelSealMigration(): void {
    this.#migration.cancel();
  }

  /**
   * Seals the node: Raft stops, every key in the barrier is zeroed, attempts are dropped. A
   * Shamir node unseals again with shares; an HSM node stays sealed until it is reopened.
   */
  async seal(): Promise<void> {
    if (!this.#barrier.isSealed) {
      // NB: first, so a sys/events poll waiting on this node answers it before the path stops.
      this.#events.sealed();
    }
    await this.#autoUnseal?.stop();
    this.#autoUnseal = undefined;
    this.resetUnseal();
    this.#generateRoot.cancel();
    this.#rekey.cancel();
    this.#migration.cancel();
    this.#joinedSealCheck?.cancel();
    this.#joinedSealCheck = undefined;
    this.#presence.stop();
    await this.#stopRequestServices();
    await this.#raft.stop();
    this.#barrier.seal();
    this.#logger.info('node_sealed', { sealType: this.#options.seal.type });
  }

  /** Seals, closes the HSM session and the state store. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    await this.seal();
    this.#events.close();
    await this.#hsm?.close();
    await this.#store.close();
  }
}
