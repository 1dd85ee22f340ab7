/**
 * An in-memory cluster of real RawNodes for tests, the datadriven scripts and the demo. It
 * plays the driver's part by the book (persist, then send, then apply, then advance) and
 * delivers messages through a queue that tests can filter, drop, partition and reorder.
 *
 * Everything is deterministic: randomness comes from a seeded PRNG and time from tick().
 */
import {
  asIndex,
  asNodeId,
  EntryType,
  MemoryStorage,
  RawNode,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type RaftConfigInput,
  type ReadState,
  type Ready,
} from '../index.ts';
import { SeededRandom } from './seeded_random.ts';

/** The application state a test node applies committed entries to. */
export interface TestStateMachine {
  apply(entry: Entry): void;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
}

/** A state machine that records the payload of each applied normal entry. */
export class RecordingStateMachine implements TestStateMachine {
  applied: string[] = [];
  readonly #decoder = new TextDecoder();
  readonly #encoder = new TextEncoder();

  apply(entry: Entry): void {
    if (entry.type === EntryType.normal && entry.data.byteLength > 0) {
      this.applied.push(this.#decoder.decode(entry.data));
    }
  }

  snapshot(): Uint8Array {
    return this.#encoder.encode(JSON.stringify(this.applied));
  }

  restore(data: Uint8Array): void {
    this.applied =
      data.byteLength === 0 ? [] : (JSON.parse(this.#decoder.decode(data)) as string[]);
  }
}

/** Options for one node; the rest of RaftConfigInput defaults. */
export type TestNodeOptions = Partial<Omit<RaftConfigInput, 'id' | 'storage'>>;

/** One node: its durable storage, its RawNode and its state machine. */
export class TestNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  raw: RawNode;
  stateMachine: TestStateMachine;
  readStates: ReadState[] = [];
  #staged: Uint8Array[] = [];
  readonly #options: RaftConfigInput;

  constructor(options: {
    id: NodeId;
    storage: MemoryStorage;
    config: RaftConfigInput;
    stateMachine: TestStateMachine;
  }) {
    this.id = options.id;
    this.storage = options.storage;
    this.#options = options.config;
    this.stateMachine = options.stateMachine;
    this.raw = new RawNode(options.config);
  }

  /** Rebuilds the node from what its storage holds, as after a crash. */
  restart(stateMachine: TestStateMachine): void {
    const snapshot = this.storage.snapshotMetadata();
    stateMachine.restore(this.storage.snapshotData());
    this.stateMachine = stateMachine;
    this.readStates = [];
    this.#staged = [];
    this.raw = new RawNode({ ...this.#options, appliedIndex: snapshot.index });
  }

  /** Handles one Ready in etcd's order and returns the messages to send. */
  handleReady(): { ready: Ready; messages: readonly Message[] } {
    const ready = this.raw.ready();
    for (const chunk of ready.snapshotChunks) {
      if (chunk.offsetBytes === 0) {
        this.#staged = [];
      }
      this.#staged.push(chunk.data);
    }
    if (ready.snapshot !== undefined) {
      const data = concat(this.#staged);
      this.#staged = [];
      this.storage.applySnapshot(ready.snapshot, data);
      this.stateMachine.restore(data);
    }
    this.storage.append(ready.entries);
    if (ready.hardState !== undefined) {
      this.storage.setHardState(ready.hardState);
    }
    for (const entry of ready.committedEntries) {
      this.stateMachine.apply(entry);
    }
    this.readStates.push(...ready.readStates);
    this.raw.advance(ready);
    return { ready, messages: ready.messages };
  }

  /** Takes a snapshot of the applied state and compacts the log up to it. */
  compact(options: { keepEntries: number } = { keepEntries: 0 }): void {
    const applied = this.raw.status().applied;
    if (applied <= this.storage.snapshotMetadata().index) {
      return;
    }
    this.storage.createSnapshot(applied, {
      confState: this.raw.status().confState,
      data: this.stateMachine.snapshot(),
    });
    this.storage.compact(
      asIndex(Math.max(this.storage.firstIndex() - 1, applied - options.keepEntries)),
    );
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Decides whether a message in flight is delivered. */
export type MessageFilter = (message: Message) => boolean;

/** A set of TestNodes joined by a message queue under test control. */
export class InMemoryCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  readonly random: SeededRandom;
  queue: Message[] = [];
  /** Messages are dropped when any filter returns false. */
  filters: MessageFilter[] = [];
  #down = new Set<NodeId>();
  readonly #options: TestNodeOptions;
  readonly #makeStateMachine: () => TestStateMachine;

  constructor(options: {
    voters: readonly number[];
    learners?: readonly number[];
    seed?: number;
    node?: TestNodeOptions;
    stateMachine?: () => TestStateMachine;
  }) {
    this.random = new SeededRandom(options.seed ?? 1);
    this.#options = options.node ?? {};
    this.#makeStateMachine = options.stateMachine ?? (() => new RecordingStateMachine());
    const conf: ConfState = {
      voters: options.voters.map(asNodeId),
      learners: (options.learners ?? []).map(asNodeId),
    };
    for (const id of [...conf.voters, ...conf.learners]) {
      this.addNode(id, conf);
    }
  }

  /** Adds a node with an empty log and the given initial membership. */
  addNode(id: NodeId, conf: ConfState): TestNode {
    const storage = new MemoryStorage(conf);
    const node = new TestNode({
      id,
      storage,
      stateMachine: this.#makeStateMachine(),
      config: { randomInt: (n) => this.random.int(n), ...this.#options, id, storage },
    });
    this.nodes.set(id, node);
    return node;
  }

  node(id: number): TestNode {
    const node = this.nodes.get(asNodeId(id));
    if (node === undefined) {
      throw new Error(`No node ${id} in the test cluster`);
    }
    return node;
  }

  /** Stops delivering to and from a node and stops ticking it (a crash, until restart). */
  crash(id: number): void {
    this.#down.add(asNodeId(id));
  }

  /** Restarts a crashed node from its storage. */
  restart(id: number): void {
    this.#down.delete(asNodeId(id));
    this.node(id).restart(this.#makeStateMachine());
  }

  isUp(id: NodeId): boolean {
    return !this.#down.has(id);
  }

  /** Cuts a node off from every other node. */
  isolate(id: number): void {
    this.filters.push((m) => m.from !== id && m.to !== id);
  }

  /** Drops messages between a and b, both ways. */
  cut(a: number, b: number): void {
    this.filters.push((m) => !((m.from === a && m.to === b) || (m.from === b && m.to === a)));
  }

  heal(): void {
    this.filters = [];
  }

  tick(id: number, count = 1): void {
    for (let i = 0; i < count; i++) {
      this.node(id).raw.tick();
    }
  }

  tickAll(count = 1): void {
    for (let i = 0; i < count; i++) {
      for (const [id, node] of this.nodes) {
        if (this.isUp(id)) {
          node.raw.tick();
        }
      }
    }
  }

  /** Handles ready batches and delivers messages until nothing moves. Returns messages seen. */
  stabilize(stepsMax = 100_000): Message[] {
    const seen: Message[] = [];
    for (let step = 0; step < stepsMax; step++) {
      let moved = false;
      for (const [id, node] of this.nodes) {
        if (this.isUp(id) && node.raw.hasReady()) {
          this.queue.push(...node.handleReady().messages);
          moved = true;
        }
      }
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        seen.push(m);
        this.deliver(m);
        moved = true;
      }
      if (!moved) {
        return seen;
      }
    }
    throw new Error(`Cluster did not stabilize within ${stepsMax} rounds`);
  }

  deliver(m: Message): void {
    if (!this.isUp(m.from) || !this.isUp(m.to) || !this.filters.every((f) => f(m))) {
      return;
    }
    this.nodes.get(m.to)?.raw.step(m);
  }

  /** The node that leads in the highest term, if any. */
  leader(): TestNode | undefined {
    let best: TestNode | undefined;
    for (const [id, node] of this.nodes) {
      const status = node.raw.status();
      if (
        this.isUp(id) &&
        status.softState.role === 'leader' &&
        (best === undefined || status.hardState.term > best.raw.status().hardState.term)
      ) {
        best = node;
      }
    }
    return best;
  }

  /** Makes node id campaign and settles; returns the leader afterwards. */
  elect(id: number): TestNode | undefined {
    this.node(id).raw.campaign();
    this.stabilize();
    return this.leader();
  }

  /** What node id applied, when its state machine is a RecordingStateMachine. */
  applied(id: number): string[] {
    const stateMachine = this.node(id).stateMachine;
    if (!(stateMachine instanceof RecordingStateMachine)) {
      throw new Error(`Node ${id} does not use a RecordingStateMachine`);
    }
    return stateMachine.applied;
  }

  /** Proposes strings on node id and settles. */
  propose(id: number, ...values: string[]): void {
    const encoder = new TextEncoder();
    const result = this.node(id).raw.propose(values.map((v) => encoder.encode(v)));
    if (!result.ok) {
      throw new Error(`Proposal refused: ${result.code} ${result.message}`);
    }
    this.stabilize();
  }
}
