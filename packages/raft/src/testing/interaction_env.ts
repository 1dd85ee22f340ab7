/**
 * The environment the data-driven interaction scripts run in (etcd rafttest/interaction_env.go):
 * a set of real RawNodes over MemoryStorage and one message queue that the script drives by
 * hand. Nothing moves unless a command says so: `process-ready` hands a node's Ready to the
 * driver code here (persist, queue the messages, apply, advance), `deliver-msgs` steps queued
 * messages into their recipient, and `stabilize` repeats both until the cluster is quiet.
 *
 * Every step writes what it did to the output (Ready batches, messages, the core's log events
 * at the chosen level), so a script's golden file is a full trace of the run.
 *
 * Determinism: no clock and no randomness. Time is tick(); the election jitter of each node is
 * a fixed number of ticks (0 unless a script sets it), returned by the node's randomInt.
 */
import {
  applyToConfState,
  asIndex,
  asNodeId,
  asTerm,
  decodeConfChange,
  EntryType,
  MemoryStorage,
  RawNode,
  type ConfState,
  type Entry,
  type LogIndex,
  type Message,
  type NodeId,
  type RaftConfigInput,
  type RaftLogger,
  type RaftResult,
} from '../index.ts';
import type { TestCase } from './datadriven.ts';
import { formatLogEvent, formatMessage, formatReady } from './interaction_format.ts';

/** Runs one script command against the environment; output goes through env.write(). */
export type InteractionHandler = (env: InteractionEnv, testCase: TestCase) => void;

/** Log levels a script can choose, from most to least verbose. */
export const LogLevel = { debug: 'debug', info: 'info', warn: 'warn', none: 'none' } as const;
/** Union of {@link LogLevel} values. */
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

const levelRank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, none: 3 };

/** The config fields a script may set; the rest is fixed by the environment. */
export type EnvNodeConfig = Partial<
  Omit<RaftConfigInput, 'id' | 'storage' | 'randomInt' | 'logger' | 'appliedIndex'>
>;

/** Defaults of the environment: etcd's interaction tests use the same short timeouts. */
export const envDefaultConfig = {
  electionTimeoutTicks: 3,
  heartbeatIntervalTicks: 1,
} as const satisfies EnvNodeConfig;

/** An applied normal entry of the test state machine. */
interface AppliedValue {
  readonly index: LogIndex;
  readonly value: string;
}

/** One node of the environment: its durable storage, its RawNode and its state machine. */
export interface EnvNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  raw: RawNode;
  readonly config: EnvNodeConfig;
  /** The state machine: applied payloads in log order. */
  applied: AppliedValue[];
  /** Membership after each applied change, oldest first, to snapshot at any applied index. */
  confHistory: { index: LogIndex; conf: ConfState }[];
  /** Snapshot chunks received and not installed yet. */
  staged: Uint8Array[];
  down: boolean;
}

/** How a new node starts. */
export interface AddNodeOptions {
  readonly id: NodeId;
  readonly conf: ConfState;
  readonly config: EnvNodeConfig;
  /** Terms of the entries already in the log, from index 1, for hand-built histories. */
  readonly logTerms?: readonly number[];
  /** The stored term; defaults to the last log term. */
  readonly term?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The state machine's snapshot data: applied payloads joined by commas. */
function snapshotData(values: readonly AppliedValue[]): Uint8Array {
  return encoder.encode(values.map((v) => v.value).join(','));
}

function restoreValues(data: Uint8Array, index: LogIndex): AppliedValue[] {
  const text = decoder.decode(data);
  return text === '' ? [] : text.split(',').map((value) => ({ index, value }));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Nodes, the message queue, partitions and the output of one script run. */
export class InteractionEnv {
  readonly nodes = new Map<number, EnvNode>();
  /** Messages sent and not yet delivered or dropped, in sending order. */
  queue: Message[] = [];
  /** Nodes cut off from every other node. */
  readonly isolated = new Set<number>();
  /** Queued messages that were sent across a partition: lost even if it heals before delivery. */
  readonly #sentAcrossPartition = new WeakSet<Message>();
  logLevel: LogLevel = LogLevel.debug;
  /** Ticks each node adds to electionTimeoutTicks for its randomized election timeout. */
  readonly jitterTicks = new Map<number, number>();
  #lines: string[] = [];
  #indent = '';

  /** Appends one line of output at the current indentation; `log-level none` silences all. */
  write(line: string): void {
    if (this.logLevel !== LogLevel.none) {
      this.#lines.push(`${this.#indent}${line}`);
    }
  }

  /** Runs fn with its output indented by two more spaces. */
  withIndent(fn: () => void): void {
    const saved = this.#indent;
    this.#indent += '  ';
    try {
      fn();
    } finally {
      this.#indent = saved;
    }
  }

  /** Returns and clears the output collected so far; `ok` when there is none. */
  takeOutput(): string {
    const text = this.#lines.join('\n');
    this.#lines = [];
    this.#indent = '';
    return text === '' ? 'ok' : text;
  }

  /** Writes a refusal with its code and message; an accepted result writes nothing. */
  writeResult(result: RaftResult): void {
    if (!result.ok) {
      const hint = result.leaderHint === undefined ? '' : ` (leaderHint=${result.leaderHint})`;
      this.write(`refused ${result.code}${hint}: ${result.message}`);
    }
  }

  /** The logger given to every node: writes events at or above the chosen level. */
  readonly logger: RaftLogger = {
    debug: (event, fields) => {
      this.#log(LogLevel.debug, event, fields);
    },
    info: (event, fields) => {
      this.#log(LogLevel.info, event, fields);
    },
    warn: (event, fields) => {
      this.#log(LogLevel.warn, event, fields);
    },
  };

  #log(level: LogLevel, event: string, fields: Record<string, unknown> | undefined): void {
    if (levelRank[level] >= levelRank[this.logLevel]) {
      this.write(formatLogEvent(level.toUpperCase(), event, fields));
    }
  }

  /** The node with this id; throws when there is none. */
  node(id: number): EnvNode {
    const node = this.nodes.get(id);
    if (node === undefined) {
      throw new Error(`Name an existing node: there is no node ${id}`);
    }
    return node;
  }

  /** The node with this id, which must be running. */
  upNode(id: number): EnvNode {
    const node = this.node(id);
    if (node.down) {
      throw new Error(`Restart node ${id} first: it is down`);
    }
    return node;
  }

  /** Ids of all nodes in order. */
  ids(): number[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  /** Adds a node with a fresh storage (optionally pre-filled with a log) and starts it. */
  addNode(options: AddNodeOptions): EnvNode {
    if (this.nodes.has(options.id)) {
      throw new Error(`Pick a new id: node ${options.id} exists`);
    }
    const storage = new MemoryStorage(options.conf);
    const terms = options.logTerms ?? [];
    storage.append(
      terms.map((term, i) => ({
        term: asTerm(term),
        index: asIndex(i + 1),
        type: EntryType.normal,
        data: new Uint8Array(0),
      })),
    );
    const lastTerm = terms[terms.length - 1] ?? 0;
    const term = asTerm(options.term ?? lastTerm);
    storage.setHardState({ term, vote: asNodeId(0), commit: asIndex(0) });
    const node: EnvNode = {
      id: options.id,
      storage,
      raw: this.#makeRawNode({ id: options.id, storage, config: options.config }, asIndex(0)),
      config: options.config,
      applied: [],
      confHistory: [{ index: asIndex(0), conf: options.conf }],
      staged: [],
      down: false,
    };
    this.nodes.set(options.id, node);
    return node;
  }

  #makeRawNode(node: Pick<EnvNode, 'id' | 'storage' | 'config'>, appliedIndex: LogIndex): RawNode {
    return new RawNode({
      ...envDefaultConfig,
      ...node.config,
      id: node.id,
      storage: node.storage,
      appliedIndex,
      logger: this.logger,
      randomInt: (maxExclusive) => Math.min(this.jitterTicks.get(node.id) ?? 0, maxExclusive - 1),
    });
  }

  /** Ticks a running node count times. */
  tick(id: number, count: number): void {
    const node = this.upNode(id);
    for (let i = 0; i < count; i++) {
      node.raw.tick();
    }
  }

  /** Handles one Ready of a node the way a driver must, printing it first. */
  processReady(id: number): void {
    const node = this.upNode(id);
    this.write(`> ${id} handling Ready`);
    this.withIndent(() => {
      const ready = node.raw.ready();
      for (const line of formatReady(ready)) {
        this.write(line);
      }
      for (const chunk of ready.snapshotChunks) {
        if (chunk.offsetBytes === 0) {
          node.staged = [];
        }
        node.staged.push(chunk.data);
      }
      if (ready.snapshot !== undefined) {
        const data = concat(node.staged);
        node.staged = [];
        node.storage.applySnapshot(ready.snapshot, data);
        node.applied = restoreValues(data, ready.snapshot.index);
        node.confHistory = [{ index: ready.snapshot.index, conf: ready.snapshot.confState }];
      }
      node.storage.append(ready.entries);
      if (ready.hardState !== undefined) {
        node.storage.setHardState(ready.hardState);
      }
      for (const m of ready.messages) {
        if (this.#partitioned(m)) {
          this.#sentAcrossPartition.add(m);
        }
        this.queue.push(m);
      }
      this.#apply(node, ready.committedEntries);
      node.raw.advance(ready);
    });
  }

  #apply(node: EnvNode, entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.type === EntryType.normal && entry.data.byteLength > 0) {
        node.applied.push({ index: entry.index, value: decoder.decode(entry.data) });
      }
      const change = entry.type === EntryType.confChange ? decodeConfChange(entry.data) : undefined;
      if (change !== undefined) {
        const conf = applyToConfState(this.confAt(node, entry.index), change);
        node.confHistory.push({ index: entry.index, conf });
      }
    }
  }

  /** The membership of a node's state machine as of an applied index. */
  confAt(node: EnvNode, index: LogIndex): ConfState {
    let conf = node.confHistory[0]?.conf ?? { voters: [], learners: [] };
    for (const record of node.confHistory) {
      if (record.index <= index) {
        conf = record.conf;
      }
    }
    return conf;
  }

  /** Why a message cannot be delivered now, or undefined when it can. */
  blockedReason(m: Message): string | undefined {
    if (this.nodes.get(m.to)?.down !== false) {
      return `node ${m.to} is down`;
    }
    if (this.#sentAcrossPartition.has(m) || this.#partitioned(m)) {
      return 'partitioned';
    }
    return undefined;
  }

  #partitioned(m: Message): boolean {
    return this.isolated.has(m.from) || this.isolated.has(m.to);
  }

  /**
   * Takes the queued messages addressed to `to` (of one type and from one node, if given) and
   * steps them into it, or drops them all when `drop` is set. Returns how many were taken.
   */
  deliverMsgs(to: number, options: { drop: boolean; type?: string; from?: number }): number {
    const taken = this.queue.filter(
      (m) =>
        m.to === to &&
        (options.type === undefined || m.type === options.type) &&
        (options.from === undefined || m.from === options.from),
    );
    this.queue = this.queue.filter((m) => !taken.includes(m));
    for (const m of taken) {
      const reason = options.drop ? 'by the script' : this.blockedReason(m);
      if (reason !== undefined) {
        this.write(`dropped (${reason}): ${formatMessage(m)}`);
        continue;
      }
      this.write(formatMessage(m));
      this.withIndent(() => {
        this.writeResult(this.node(to).raw.step(m));
      });
    }
    return taken.length;
  }

  /** Handles Readys and delivers messages among the given nodes until none has any work. */
  stabilize(ids: readonly number[]): void {
    const roundsMax = 10_000;
    for (let round = 0; round < roundsMax; round++) {
      let done = true;
      for (const id of ids) {
        const node = this.node(id);
        if (!node.down && node.raw.hasReady()) {
          this.processReady(id);
          done = false;
        }
      }
      for (const id of ids) {
        if (this.queue.some((m) => m.to === id)) {
          this.write(`> ${id} receiving messages`);
          this.withIndent(() => this.deliverMsgs(id, { drop: false }));
          done = false;
        }
      }
      if (done) {
        return;
      }
    }
    throw new Error(`Stabilize a quieter scenario: still busy after ${roundsMax} rounds`);
  }

  /**
   * Stops a node: it no longer ticks, handles Readys or receives messages. Messages queued
   * for it are lost with it.
   */
  crash(id: number): void {
    this.upNode(id).down = true;
    this.#dropInbound(id, `node ${id} crashed`);
  }

  #dropInbound(id: number, reason: string): void {
    for (const m of this.queue.filter((q) => q.to === id)) {
      this.write(`dropped (${reason}): ${formatMessage(m)}`);
    }
    this.queue = this.queue.filter((q) => q.to !== id);
  }

  /**
   * Restarts a node from its storage, as after a crash: what was not persisted is lost, the
   * state machine is rebuilt from the snapshot and the committed log is replayed. Messages
   * sent to it while it was down are dropped: they found no one listening.
   */
  restart(id: number): void {
    const node = this.node(id);
    if (node.down) {
      this.#dropInbound(id, `node ${id} was down`);
    }
    node.down = false;
    const snapshot = node.storage.snapshotMetadata();
    node.applied = restoreValues(node.storage.snapshotData(), snapshot.index);
    node.confHistory = [{ index: snapshot.index, conf: snapshot.confState }];
    node.staged = [];
    node.raw = this.#makeRawNode(node, snapshot.index);
  }

  /**
   * Takes a snapshot of a node's state machine at an applied index and compacts its log up to
   * it, as the driver does when the log grows too long.
   */
  compact(id: number, index: LogIndex): void {
    const node = this.upNode(id);
    const applied = node.raw.status().applied;
    if (index > applied) {
      throw new Error(`Compact node ${id} at most to its applied index ${applied}, got ${index}`);
    }
    node.storage.createSnapshot(index, {
      confState: this.confAt(node, index),
      data: snapshotData(node.applied.filter((v) => v.index <= index)),
    });
    node.storage.compact(index);
  }
}
