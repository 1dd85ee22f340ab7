/**
 * Test support for the cluster channel's tests: Raft messages built by hand, a timer the test
 * fires, and nodes made of a real ClusterServer and GrpcRaftTransport on loopback TLS.
 *
 * NB: @coffer/api may not import @coffer/raft, and @coffer/core exports no message
 * constructor, so messages are literals of the shape core's RaftMessage names, checked by a
 * round trip through the wire codec (anything the codec would refuse fails the test here).
 */
import { decodeRaftMessage, encodeRaftMessage, type RaftMessage } from '@coffer/core';

import { ClusterServer } from './cluster_server.ts';
import type { FixtureClusterTls } from './cluster_tls_fixture.ts';
import { GrpcRaftTransport, type GrpcRaftTransportOptions } from './grpc_raft_transport.ts';
import type { ClusterTimer } from './raft_peer_stream.ts';

/** The fields a test sets; the rest take their zero value. */
export interface MessageFields {
  readonly type: 'heartbeat' | 'vote' | 'append' | 'appendResponse' | 'heartbeatResponse';
  readonly from: number;
  readonly to: number;
  readonly term?: number;
  /** For an append: entries after index 0, each with this many bytes of data. */
  readonly entryBytes?: readonly number[];
  /** Echoed in `context`, so a test can tell messages apart. */
  readonly tag?: number;
}

/** A Raft message as the codec carries it. */
export function raftMessage(fields: MessageFields): RaftMessage {
  const term = fields.term ?? 1;
  const literal = {
    type: fields.type,
    from: fields.from,
    to: fields.to,
    term,
    logTerm: 0,
    index: 0,
    entries: (fields.entryBytes ?? []).map((sizeBytes, i) => ({
      term,
      index: i + 1,
      type: 'normal',
      data: new Uint8Array(sizeBytes),
    })),
    commit: 0,
    reject: false,
    rejectHint: 0,
    leaderTransfer: false,
    context: Uint8Array.of(fields.tag ?? 0),
    snapshot: undefined,
  };
  const decoded = decodeRaftMessage(encodeRaftMessage(literal as unknown as RaftMessage));
  if (!decoded.ok) {
    throw new Error(`test message does not round-trip: ${decoded.reason}`);
  }
  return decoded.message;
}

/** The tag a message was built with. */
export function tagOf(message: RaftMessage): number {
  return message.context[0] ?? 0;
}

/** A timer that runs nothing until the test fires it. */
export class ManualTimer implements ClusterTimer {
  readonly #pending = new Set<{ readonly delayMs: number; readonly callback: () => void }>();
  /** Every delay ever asked for, in order. */
  readonly delaysMs: number[] = [];

  setTimer(delayMs: number, callback: () => void): { cancel(): void } {
    const timer = { delayMs, callback };
    this.#pending.add(timer);
    this.delaysMs.push(delayMs);
    return {
      cancel: () => {
        this.#pending.delete(timer);
      },
    };
  }

  /** How many timers wait. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Runs every waiting timer now. */
  fireAll(): void {
    const due = [...this.#pending];
    this.#pending.clear();
    for (const timer of due) {
      timer.callback();
    }
  }
}

/** One node of a test cluster: its listener, its transport, and what it received. */
export interface TestClusterNode {
  readonly nodeId: number;
  readonly tls: FixtureClusterTls;
  readonly server: ClusterServer;
  readonly transport: GrpcRaftTransport;
  readonly received: RaftMessage[];
  close(): Promise<void>;
}

/** Extra transport options a test may set. */
export type TestTransportOptions = Partial<
  Pick<
    GrpcRaftTransportOptions,
    'queueMessagesMax' | 'batchBytesMax' | 'backoff' | 'admitTimeoutMs' | 'timer' | 'randomInt'
  >
>;

/** Starts a node on a loopback port; `addresses` is where every node's transport looks peers up. */
export async function startTestNode(
  tls: FixtureClusterTls,
  addresses: Map<number, string>,
  options: TestTransportOptions = {},
): Promise<TestClusterNode> {
  const server = new ClusterServer({ clusterTls: tls, host: '127.0.0.1', port: 0 });
  const transport = new GrpcRaftTransport({
    clusterTls: tls,
    server,
    resolve: (nodeId) => addresses.get(nodeId),
    timer: new ManualTimer(),
    ...options,
  });
  const received: RaftMessage[] = [];
  transport.listen((message) => received.push(message));
  await server.start();
  addresses.set(tls.nodeId, server.address);
  return {
    nodeId: tls.nodeId,
    tls,
    server,
    transport,
    received,
    close: async () => {
      await transport.close();
      await server.close();
    },
  };
}
