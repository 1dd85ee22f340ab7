/**
 * CofferServer: one node and its API listeners, as `coffer server` runs them. It opens the
 * CofferNode over the config's data directory, then starts the gRPC listener and the HTTP
 * listener (health, seal status, metrics) over the node's router, both over TLS.
 *
 *   start ─▶ node open ─▶ TLS read ─▶ gRPC listening ─▶ HTTP listening ─▶ serving
 *                                                                          │  reload(): TLS
 *                                                                          │  re-read, audit
 *                                                                          ▼  files reopened
 *   closed ◀── node closed (sync) ◀── in-flight calls done or grace over ◀─ close(graceMs)
 *
 * Invariant: a failed start leaves nothing behind: a listener already bound is closed and the
 * node is closed (releasing its data directory's lock) before the error is rethrown.
 * Invariant: reload() never drops an open connection and never stops the server: a TLS file
 * that cannot be read leaves the old certificate in place and is reported.
 */
import {
  CofferNode,
  CoreErrorCode,
  createServerLog,
  type NodeStatus,
  type ServerLog,
} from '@coffer/core';

import { ClusterPort } from '../cluster/cluster_port.ts';
import { joinCluster } from '../cluster/join_cluster.ts';
import { ApiMetrics } from '../metrics/api_metrics.ts';
import { readSecretFile } from './secret_file.ts';
import type { TlsMaterial } from '@coffer/core';
import type { ServerConfig } from './config.ts';
import { routeGrpcLogging } from './grpc_logging.ts';
import { readListenerTls, type ListenerName } from './listener_tls.ts';
import {
  defaultListenerFactories,
  hostPort,
  startListener,
  type ListenerFactories,
  type ServerListener,
} from './server_listeners.ts';
import { nodeOptionsOf } from './node_options.ts';

/** How a server is started; every field but `log` has a production default. */
export interface CofferServerOptions {
  /** The server log; default pino JSON lines to config.log.file or stderr (secrets redacted). */
  readonly log?: ServerLog;
  /** Loads a listener's TLS material; default: its config files, read again at each reload. */
  readonly loadTls?: (listener: ListenerName) => Promise<TlsMaterial>;
  /** Starts the listeners (tests inject their own). */
  readonly listeners?: ListenerFactories;
}

/** The outcome of a reload: what was reloaded and what failed (by code, never a secret). */
export interface ReloadOutcome {
  readonly tlsReloaded: readonly ListenerName[];
  readonly failures: readonly { readonly what: string; readonly code: string }[];
}

/** How long a fresh node's start waits for it to elect itself. */
const leaderWaitMs = 10_000;

/**
 * Resolves true once `node` leads (its one-voter cluster), false after `deadlineMs`. Polls
 * every 10 ms: the node has no leadership events.
 */
export async function waitForLeadership(
  node: CofferNode,
  options: { readonly nodeId: number; readonly deadlineMs: number },
): Promise<boolean> {
  const started = performance.now();
  while (node.metrics().raft?.leaderId !== options.nodeId) {
    if (performance.now() - started > options.deadlineMs) {
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/** How long a leader that is stopping waits for its successor to take over. */
const handOverWaitMs = 3000;

/** How long `sys/storage/raft/join` keeps asking before it answers that it could not join. */
const joinAskWindowMs = 30_000;

/** How often the listeners' health is brought in step with the node's seal and role. */
const servingCheckIntervalMs = 250;

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNEXPECTED';
}

/** A running server. Start it with {@link CofferServer.start}; stop it with `close()`. */
export class CofferServer {
  /** The node the listeners serve. */
  readonly node: CofferNode;
  readonly #config: ServerConfig;
  readonly #log: ServerLog;
  readonly #loadTls: (listener: ListenerName) => Promise<TlsMaterial>;
  readonly #grpc: ServerListener;
  readonly #http: ServerListener;
  readonly #metrics: ApiMetrics;
  readonly #clusterPort: ClusterPort | undefined;
  #joining: Promise<void> | undefined;
  #servingWatch: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  private constructor(
    parts: {
      readonly node: CofferNode;
      readonly grpc: ServerListener;
      readonly http: ServerListener;
      readonly metrics: ApiMetrics;
      readonly clusterPort: ClusterPort | undefined;
    },
    config: ServerConfig,
    options: Required<Pick<CofferServerOptions, 'log' | 'loadTls'>>,
  ) {
    this.node = parts.node;
    this.#grpc = parts.grpc;
    this.#http = parts.http;
    this.#metrics = parts.metrics;
    this.#clusterPort = parts.clusterPort;
    this.#config = config;
    this.#log = options.log;
    this.#loadTls = options.loadTls;
  }

  /**
   * Opens the node and starts both listeners. Throws (with the node closed again) when the
   * node cannot open, a TLS file cannot be read or an address cannot be bound; the last two
   * name the config field (`listeners.grpc.tls_cert_file: cannot read "<file>": ...`).
   * grpc-js's own log lines go to the server log from here on, never raw to stderr.
   */
  static async start(config: ServerConfig, options: CofferServerOptions): Promise<CofferServer> {
    const log = options.log ?? serverLogOf(config);
    routeGrpcLogging(log);
    const loadTls = options.loadTls ?? ((listener) => readListenerTls(config, { listener, log }));
    const factories = options.listeners ?? defaultListenerFactories;
    // NB: TLS first, so a bad certificate is reported before the data directory is touched.
    const grpcTls = await loadTls('grpc');
    const httpTls = await loadTls('http');
    // NB: bound late: the port resolves peers through the node, which needs the port first, and
    // sys/storage/raft/join reaches the server's joiner, which exists once the server does.
    const late: {
      node?: CofferNode;
      join: (token: string) => Promise<void>;
    } = { join: () => Promise.reject(new Error('the server is still starting')) };
    const clusterPort =
      config.cluster === undefined
        ? undefined
        : new ClusterPort({
            nodeId: config.nodeId,
            host: config.cluster.host,
            port: config.cluster.port,
            member: (id) => late.node?.membership.addressesOf(id),
            onRefusedAsNonMember: (peerId) => {
              late.node?.refusedAsNonMember(peerId);
            },
            serveForwarded: async (request) => {
              const node = late.node;
              return node === undefined
                ? {
                    ok: false,
                    requestId: request.requestId ?? '',
                    code: CoreErrorCode.notActive,
                    message: 'Retry: this node is still starting',
                  }
                : await node.handle(request, { forwarded: true });
            },
            // Randomized timeouts run to twice the base: two of the longest elections.
            leaderlessAnswerMs: 4 * config.cluster.electionTimeoutMs,
            log,
          });
    const node = await CofferNode.open({
      ...nodeOptionsOf(config, log, clusterPort),
      ...(clusterPort === undefined ? {} : { joinWithToken: (token) => late.join(token) }),
    });
    late.node = node;
    const metrics = new ApiMetrics({ source: { snapshot: () => node.metrics() } });
    const started: ServerListener[] = [];
    try {
      const common = { node, config, metrics, log };
      const grpc = await startListener(factories, 'grpc', { ...common, tls: grpcTls });
      started.push(grpc);
      const http = await startListener(factories, 'http', { ...common, tls: httpTls });
      started.push(http);
      const server = new CofferServer({ node, grpc, http, metrics, clusterPort }, config, {
        log,
        loadTls,
      });
      server.#watchServing();
      late.join = (token) => server.#join(token, { untilMs: Date.now() + joinAskWindowMs });
      await server.#joinIfAsked();
      if (node.metrics().raft !== undefined) {
        // NB: a fresh single voter elects itself within an election timeout; waiting for it
        // here means `coffer operator init` right after the start line is not refused.
        await waitForLeadership(node, { nodeId: config.nodeId, deadlineMs: leaderWaitMs });
      }
      log.info('server_listening', server.addresses());
      return server;
    } catch (error) {
      await Promise.allSettled(started.map((listener) => listener.close(0)));
      metrics.close();
      await node.close();
      await clusterPort?.close();
      throw error;
    }
  }

  /**
   * Keeps the listeners' health in step with the node: serving while it is the active node,
   * not serving while sealed or standby. Polled, because the node has no change events.
   */
  #watchServing(): void {
    let serving: boolean | undefined;
    const check = (): void => {
      const active = this.node.metrics().active;
      if (active !== serving) {
        serving = active;
        this.#grpc.setServing?.(active);
        this.#http.setServing?.(active);
      }
    };
    check();
    this.#servingWatch = setInterval(check, servingCheckIntervalMs);
    this.#servingWatch.unref();
  }

  /**
   * A node with a join token file and nothing yet (no init, no Raft) joins in the background,
   * retrying with backoff (retry_join) until admitted, the token is refused, or the server stops.
   */
  async #joinIfAsked(): Promise<void> {
    const cluster = this.#config.cluster;
    const status = this.node.status();
    if (cluster?.joinTokenFile === undefined || status.initialized || status.raftRunning) {
      return;
    }
    const token = await readSecretFile(cluster.joinTokenFile, 'cluster.join_token_file');
    this.#joining = this.#join(token, { untilMs: Number.POSITIVE_INFINITY }).catch(
      (error: unknown) => {
        this.#log.error('cluster_join_failed', { code: codeOf(error) });
      },
    );
  }

  /** Joins the cluster of `token`, retrying with backoff until admitted or `untilMs`. */
  #join(token: string, options: { readonly untilMs: number }): Promise<void> {
    const cluster = this.#config.cluster;
    if (cluster === undefined) {
      return Promise.reject(new Error('no cluster section'));
    }
    return joinCluster(this.node, token, {
      self: {
        nodeId: this.#config.nodeId,
        clusterAddress: cluster.advertiseAddress,
        apiAddress: cluster.apiAdvertiseAddress,
      },
      log: this.#log,
      pacing: {
        wait: (ms) =>
          new Promise((resolve) => {
            setTimeout(resolve, ms).unref();
          }),
        initialMs: 500,
        maxMs: 15_000,
        stopped: () => this.#closing !== undefined || Date.now() > options.untilMs,
      },
    });
  }

  /** The bound addresses, `host:port` (the real port when the config asked for port 0). */
  addresses(): { readonly grpc: string; readonly http: string; readonly cluster?: string } {
    const { grpc, http } = this.#config.listeners;
    const clusterPort = this.#clusterPort?.boundPort;
    const cluster = this.#config.cluster;
    return {
      grpc: hostPort(grpc.host, this.#grpc.port),
      http: hostPort(http.host, this.#http.port),
      ...(cluster === undefined
        ? {}
        : { cluster: hostPort(cluster.host, clusterPort ?? cluster.port) }),
    };
  }

  /**
   * SIGHUP: re-reads the TLS files and hands them to both listeners (new connections get the
   * new certificate; open ones keep theirs), and reopens the audit files (log rotation).
   * Never throws: failures are logged and returned.
   */
  async reload(): Promise<ReloadOutcome> {
    const tlsReloaded: ListenerName[] = [];
    const failures: { what: string; code: string }[] = [];
    const listeners = { grpc: this.#grpc, http: this.#http } as const;
    for (const name of ['grpc', 'http'] as const) {
      try {
        await listeners[name].reloadTls(await this.#loadTls(name));
        tlsReloaded.push(name);
      } catch (error) {
        failures.push({ what: `${name}_tls`, code: codeOf(error) });
      }
    }
    try {
      await this.node.reopenAuditFiles();
    } catch (error) {
      failures.push({ what: 'audit_files', code: codeOf(error) });
    }
    for (const failure of failures) {
      this.#log.error('server_reload_failed', failure);
    }
    this.#log.info('server_reloaded', { tls: tlsReloaded, failures: failures.length });
    return { tlsReloaded, failures };
  }

  /**
   * Stops accepting connections, lets in-flight calls finish for up to `graceMs` (default the
   * config's shutdown_grace_ms), then closes the node, which seals it and syncs its stores.
   * Idempotent: a second call returns the first one's promise.
   */
  close(graceMs: number = this.#config.limits.shutdownGraceMs): Promise<void> {
    this.#closing ??= this.#closeNow(graceMs);
    return this.#closing;
  }

  async #closeNow(graceMs: number): Promise<void> {
    this.#log.info('server_stopping', { graceMs });
    clearInterval(this.#servingWatch);
    const closed = await Promise.allSettled([this.#grpc.close(graceMs), this.#http.close(graceMs)]);
    for (const outcome of closed) {
      if (outcome.status === 'rejected') {
        this.#log.error('listener_close_failed', { code: codeOf(outcome.reason) });
      }
    }
    this.#metrics.close();
    await this.#joining;
    if (await this.node.handOverLeadership(handOverWaitMs)) {
      this.#log.info('leadership_handed_over');
    }
    await this.node.close();
    await this.#clusterPort?.close();
    this.#log.info('server_stopped');
  }
}

/** The server log a config asks for: JSON lines to its file, or to stderr. */
export function serverLogOf(config: Pick<ServerConfig, 'log'>): ServerLog {
  return createServerLog({ destination: config.log.file ?? 2, level: config.log.level });
}

/** The seal state at start, with what the operator does next. */
function sealStateLine(status: NodeStatus): string {
  if (!status.initialized) {
    return 'uninitialized: run "coffer operator init"';
  }
  if (!status.sealed) {
    return 'unsealed';
  }
  return status.sealType === 'pkcs11'
    ? 'sealed: unsealing itself through the HSM (coffer status shows when it is done)'
    : 'sealed: run "coffer operator unseal" with a quorum of shares';
}

/** What an operator sees when the server is up: the bound addresses and the node's state. */
export function describeServer(server: CofferServer): string {
  const { grpc, http } = server.addresses();
  const status = server.node.status();
  return [
    'Coffer server started.',
    `  gRPC API:  ${grpc} (TLS)`,
    `  HTTP:      https://${http} (health, seal status, metrics)`,
    ...(server.addresses().cluster === undefined
      ? []
      : [`  Cluster:   ${server.addresses().cluster ?? ''} (mTLS between nodes)`]),
    `  Seal:      ${status.sealType}, ${sealStateLine(status)}`,
    '',
  ].join('\n');
}

export { hostPort } from './server_listeners.ts';
