/**
 * One node of `npm run bench:raft`, run in its own worker thread so that the three nodes of the
 * cluster use the machine's cores as three servers would, while staying in one process.
 *
 * Peers talk over MessagePorts carrying the wire format: every message is encoded by the sender
 * and decoded by the receiver, as on a socket. The node's own proposers run in its thread, as a
 * server's request handlers would; only the leader's proposers propose.
 *
 * Protocol with the main thread (bench_protocol.ts): `start` → `started`; for each phase
 * `phase` → `phaseDone` with the latencies measured here; `stop` → `stopped`.
 */
import { join } from 'node:path';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import {
  asNodeId,
  type Entry,
  type LogIndex,
  type Message,
  type NodeId,
  type SnapshotMetadata,
} from '@coffer/raft';
import {
  decodeMessage,
  encodeMessage,
  framedSnapshot,
  RaftNode,
  systemClock,
  type DurableLog,
  type SnapshotSource,
  type StateMachine,
  type Transport,
} from '@coffer/raft/node';
import { SeededRandom } from '@coffer/raft/testing';
import { LevelLogStore } from '@coffer/storage';
import type { NodeSetup, PhaseReport, ToMain, ToNode } from './raft_bench_protocol.ts';

/** Applies nothing but counts: the bench measures the log, not an application. */
class CountingMachine implements StateMachine {
  #index = 0 as LogIndex;
  appliedIndex(): LogIndex {
    return this.#index;
  }
  apply(entries: readonly Entry[]): Promise<readonly Uint8Array[]> {
    const last = entries[entries.length - 1];
    if (last !== undefined) {
      this.#index = last.index;
    }
    return Promise.resolve(entries.map(() => new Uint8Array(0)));
  }
  snapshot(): Promise<SnapshotSource> {
    return Promise.resolve(framedSnapshot([]));
  }
  restore(metadata: SnapshotMetadata): Promise<void> {
    this.#index = metadata.index;
    return Promise.resolve();
  }
}

/** A transport over one MessagePort per peer; bytes are transferred, not copied. */
function portTransport(ports: ReadonlyMap<NodeId, MessagePort>): Transport {
  let handler: ((m: Message) => void) | undefined;
  for (const port of ports.values()) {
    port.on('message', (bytes: Uint8Array) => {
      const decoded = decodeMessage(bytes);
      if (decoded.ok) {
        handler?.(decoded.value);
      }
    });
  }
  return {
    send: (messages) => {
      for (const m of messages) {
        const bytes = encodeMessage(m);
        ports.get(m.to)?.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
      }
    },
    listen: (h) => {
      handler = h;
    },
    close: () => {
      for (const port of ports.values()) {
        port.close();
      }
      return Promise.resolve();
    },
  };
}

const syncs = { count: 0 };

/** Counts the synced persists of a log: each is one fsync of a LevelDB batch. */
function counted(log: DurableLog): DurableLog {
  return new Proxy(log, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property === 'persist' && typeof value === 'function') {
        return (batch: unknown, options: { sync: boolean }) => {
          if (options.sync) {
            syncs.count++;
          }
          return (value as (b: unknown, o: unknown) => Promise<void>).call(target, batch, options);
        };
      }
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function runPhase(
  node: RaftNode,
  phase: Extract<ToNode, { kind: 'phase' }>,
): Promise<PhaseReport> {
  const value = new Uint8Array(phase.valueBytes).fill(42);
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let measuring = false;
  let stop = false;
  const proposer = async (): Promise<void> => {
    while (!stop) {
      if (node.raw.raft.role !== 'leader') {
        await delay(5);
        continue;
      }
      const start = performance.now();
      const outcome = await node.propose(value);
      if (measuring) {
        if (outcome.ok) {
          latencies.push(performance.now() - start);
        } else {
          failures[outcome.code] = (failures[outcome.code] ?? 0) + 1;
        }
      }
      if (!outcome.ok) {
        // NB: a refusal resolves at once; yield to timers, or the proposers would spin on
        // microtasks and starve the node's own timers.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  };
  const proposers = Array.from({ length: phase.proposers }, () => proposer());
  await delay(phase.warmupMs);
  measuring = true;
  const syncsBefore = syncs.count;
  const start = performance.now();
  await delay(phase.measureMs);
  measuring = false;
  const seconds = (performance.now() - start) / 1000;
  const syncsDone = syncs.count - syncsBefore;
  stop = true;
  await Promise.all(proposers);
  return { latencies: Float64Array.from(latencies), failures, syncs: syncsDone, seconds };
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) {
    throw new Error('raft_bench_node runs in a worker thread of raft_bench.ts');
  }
  const setup = workerData as NodeSetup;
  const peers = new Map<NodeId, MessagePort>(
    Object.entries(setup.peers).map(([id, p]) => [asNodeId(Number(id)), p]),
  );
  const random = new SeededRandom(2026 + setup.id);
  const confState = { voters: setup.voters.map(asNodeId), learners: [] };
  const node = await RaftNode.start({
    id: setup.id,
    log: counted(
      await LevelLogStore.open(join(setup.directory, `node-${setup.id}`), { confState }),
    ),
    stateMachine: new CountingMachine(),
    transport: portTransport(peers),
    clock: systemClock,
    randomInt: (n) => random.int(n),
    tickIntervalMs: 20,
    raft: { electionTimeoutTicks: 10, heartbeatIntervalTicks: 2 },
  });
  const reply = (message: ToMain): void => {
    port.postMessage(message);
  };
  port.on('message', (message: ToNode) => {
    switch (message.kind) {
      case 'status':
        reply({
          kind: 'status',
          leader: node.raw.status().softState.role === 'leader',
          applied: node.raw.status().applied,
          term: node.raw.status().hardState.term,
        });
        return;
      case 'phase':
        void runPhase(node, message).then((report) => {
          reply({ kind: 'phaseDone', report });
        });
        return;
      case 'stop':
        void node.stop().then(() => {
          reply({ kind: 'stopped' });
          port.close();
          for (const p of peers.values()) {
            p.close();
          }
        });
        return;
    }
  });
  reply({ kind: 'started' });
}

await main();
