/**
 * A server's cluster port: the ClusterServer and the Raft transport over it, brought up when
 * the node's Raft runs AND it holds a cluster identity, and taken down when Raft stops (seal).
 *
 *   Raft starts ──▶ transport() ──▶ a DeferredTransport (drops sends, keeps the handler)
 *   identity set ──▶ bind the cluster port (ClusterServer) ──▶ GrpcRaftTransport behind it
 *   Raft stops ───▶ transport.close() ──▶ the port is closed too (a sealed node is not heard)
 *
 * NB: Raft tolerates lost messages, so sends before the port is up are dropped, not queued: the
 * leader resends, and votes and heartbeats are periodic.
 */
import {
  CoreErrorCode,
  type CoreRequest,
  type CoreResponse,
  type MemberAddresses,
  type RaftMessage,
  type ServerLog,
  type Transport,
} from '@coffer/core';

import { ClusterServer, type ClusterServerOptions } from './cluster_server.ts';
import { ForwardClient } from './forward_client.ts';
import { ForwardService, forwardServiceDefinition, LeaderChanges } from './forward_service.ts';
import { Forwarder } from './forwarder.ts';
import { GrpcRaftTransport } from './grpc_raft_transport.ts';
import { NodeClusterTls } from './node_cluster_tls.ts';

/** How a cluster port is set up. */
export interface ClusterPortOptions {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  /** A member's addresses now, or undefined. */
  readonly member: (nodeId: number) => MemberAddresses | undefined;
  /**
   * Serves a request a standby forwarded here, on this node's own request path (never
   * forwarded on: a node that is not active answers NOT_ACTIVE, and the standby retries).
   */
  readonly serveForwarded: (request: CoreRequest) => Promise<CoreResponse>;
  /** A peer refused this node as no member of the cluster (it may have been removed). */
  readonly onRefusedAsNonMember?: (peerId: number) => void;
  readonly log: ServerLog;
  /** How long a standby knows no leader before it answers NO_LEADER (Forwarder); unset, never. */
  readonly leaderlessAnswerMs?: number;
  readonly server?: Partial<Pick<ClusterServerOptions, 'closeGraceMs' | 'messageBytesMax'>>;
}

/** The parts that run while the port is up. */
interface Running {
  readonly server: ClusterServer;
  readonly transport: GrpcRaftTransport;
  readonly forwarder: Forwarder;
  readonly forwardClient: ForwardClient;
}

/** One node's cluster port. */
export class ClusterPort {
  /** The node's cluster identity, as the channel sees it. */
  readonly tls: NodeClusterTls;
  /** The leader as this node's Raft sees it, pushed to standbys' forwarders and watchers. */
  readonly leaders = new LeaderChanges();
  readonly #options: ClusterPortOptions;
  #deferred: DeferredTransport | undefined;
  #running: Promise<Running | undefined> | undefined;
  #up: Running | undefined;
  #boundPort: number | undefined;

  constructor(options: ClusterPortOptions) {
    this.#options = options;
    this.tls = new NodeClusterTls(options.nodeId);
  }

  /** The bound port while it is up. */
  get boundPort(): number | undefined {
    return this.#boundPort;
  }

  /** The transport factory of the node's Raft runner (one per Raft start). */
  transport(): Transport {
    const deferred = new DeferredTransport(() => this.#down());
    this.#deferred = deferred;
    this.#bringUp();
    return deferred;
  }

  /** The node's identity appeared, changed or went (seal). */
  setIdentity(identity: Parameters<NodeClusterTls['set']>[0]): void {
    this.tls.set(identity);
    this.#bringUp();
  }

  /** The node's Raft saw a leader change (noNode: none known). */
  leaderChanged(change: { readonly leaderId: number; readonly term: number }): void {
    const member = change.leaderId === 0 ? undefined : this.#options.member(change.leaderId);
    this.leaders.publish({
      term: change.term,
      leaderId: change.leaderId,
      apiAddress: member?.apiAddress ?? '',
      clusterAddress: member?.clusterAddress ?? '',
    });
  }

  /**
   * Sends a standby's request to the active node, retrying on the next leader with the same
   * request id until its deadline; NOT_ACTIVE while the port is not up.
   */
  async forward(request: CoreRequest): Promise<CoreResponse> {
    const up = this.#up;
    if (up === undefined) {
      return {
        ok: false,
        requestId: request.requestId ?? '',
        code: CoreErrorCode.notActive,
        message: 'Retry the request: this standby is not connected to the cluster yet',
      };
    }
    return await up.forwarder.handle(request);
  }

  /** Closes the port (server stop). */
  async close(): Promise<void> {
    await this.#down();
  }

  #bringUp(): void {
    const deferred = this.#deferred;
    if (deferred === undefined || !this.tls.ready || this.#running !== undefined) {
      return;
    }
    this.#running = this.#start(deferred).catch((error: unknown) => {
      const code = (error as { code?: unknown } | null)?.code;
      this.#options.log.error('cluster_port_failed', {
        code: typeof code === 'string' ? code : 'unexpected',
        address: `${this.#options.host}:${this.#options.port}`,
      });
      this.#running = undefined;
      return undefined;
    });
  }

  async #start(deferred: DeferredTransport): Promise<Running> {
    const o = this.#options;
    const server = new ClusterServer({
      clusterTls: this.tls,
      host: o.host,
      port: o.port,
      ...o.server,
    });
    const service = new ForwardService({ handle: o.serveForwarded, leaders: this.leaders });
    server.addService(forwardServiceDefinition, service.implementation());
    await server.start();
    const resolve = (id: number): string | undefined => o.member(id)?.clusterAddress;
    const transport = new GrpcRaftTransport({
      clusterTls: this.tls,
      server,
      resolve,
      onRefused: (peerId, code) => {
        if (code === CoreErrorCode.removed) {
          o.onRefusedAsNonMember?.(peerId);
        }
      },
    });
    const forwardClient = new ForwardClient({ clusterTls: this.tls, resolve });
    const forwarder = new Forwarder({
      selfId: o.nodeId,
      leaders: this.leaders,
      client: forwardClient,
      local: o.serveForwarded,
      ...(o.leaderlessAnswerMs === undefined ? {} : { leaderlessAnswerMs: o.leaderlessAnswerMs }),
    });
    this.#boundPort = server.port;
    deferred.attach(transport);
    o.log.info('cluster_port_listening', { address: `${o.host}:${server.port}` });
    const running = { server, transport, forwarder, forwardClient };
    this.#up = running;
    return running;
  }

  async #down(): Promise<void> {
    const running = this.#running;
    this.#running = undefined;
    this.#deferred = undefined;
    this.#boundPort = undefined;
    this.#up = undefined;
    const parts = await running;
    parts?.forwarder.close();
    await parts?.transport.close();
    parts?.forwardClient.close();
    await parts?.server.close();
  }
}

/** A Transport whose real one arrives later; sends before then are dropped. */
class DeferredTransport implements Transport {
  #real: Transport | undefined;
  #handler: ((message: RaftMessage) => void) | undefined;
  #onPeerLost: ((peerId: number) => void) | undefined;
  #closed = false;
  readonly #onClose: () => Promise<void>;

  constructor(onClose: () => Promise<void>) {
    this.#onClose = onClose;
  }

  attach(real: Transport): void {
    if (this.#closed) {
      void real.close();
      return;
    }
    this.#real = real;
    if (this.#handler !== undefined) {
      real.listen(this.#handler);
    }
    if (this.#onPeerLost !== undefined) {
      real.onPeerLost?.(this.#onPeerLost);
    }
  }

  send(messages: readonly RaftMessage[]): void {
    this.#real?.send(messages);
  }

  listen(handler: (message: RaftMessage) => void): void {
    this.#handler = handler;
    this.#real?.listen(handler);
  }

  onPeerLost(handler: (peerId: number) => void): void {
    this.#onPeerLost = handler;
    this.#real?.onPeerLost?.(handler);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#onClose();
  }
}
