/**
 * The driver of one simulated node: it runs a real RawNode by the Ready contract (raw_node.ts):
 *
 *   ready() → send a leader's appends and heartbeats (early_messages.ts, as RaftNode does)
 *           → write snapshot, entries, hard state to the disk → fsync (takes simulated time)
 *           → send the other messages → apply committed entries, serve reads → advance()
 *
 * While an fsync is in flight the node keeps taking ticks and messages (so acknowledgements of
 * the early appends can arrive before the leader's own fsync ends); the next Ready waits.
 * The test-only switch `sendBeforeSync` sends all of a Ready's messages before the fsync, the
 * broken variant "answering a vote before persisting it".
 *
 * Time: ticks follow the node's own clock. A paused node (a GC stall) runs nothing; when it
 * resumes it first takes every tick it missed, then the work that queued up, as the lease
 * contract requires.
 *
 * Clients: a write is proposed on the leader and answered when this node applies it; a read
 * asks ReadIndex, waits for its ReadState, then for applied >= its index, then reads locally.
 */
import {
  ConfChangeType,
  decodeConfChange,
  EntryType,
  makeConfig,
  Raft,
  RaftErrorCode,
  RawNode,
  type ConfChange,
  type Entry,
  type MemoryStorage,
  type Message,
  type NodeId,
  type RaftConfig,
  type RaftConfigInput,
  type RaftResult,
  type Ready,
} from '../../index.ts';
import { splitForPersist } from '../../node/early_messages.ts';
import type { SeededRandom } from '../seeded_random.ts';
import type { SafetyChecks } from './checks.ts';
import { SimProperty } from './checks.ts';
import {
  encodeCommand,
  KvStateMachine,
  type KvRequest,
  type KvResponse,
} from './kv_state_machine.ts';
import type { SimDisk } from './sim_disk.ts';
import type { SimNetwork } from './sim_network.ts';
import { NodeClock, type SimWorld } from './sim_world.ts';

/** Raft settings shared by every node of a run; id, storage and randomness are per node. */
export type NodeRaftSettings = Partial<
  Omit<RaftConfigInput, 'id' | 'storage' | 'randomInt' | 'appliedIndex'>
>;

/** How every node of a run behaves. */
export interface NodeSettings {
  readonly raft: NodeRaftSettings;
  /** Builds the Raft instance; a broken variant passes its subclass here. */
  readonly raftFactory: ((config: RaftConfig) => Raft) | undefined;
  /** Test-only: send a Ready's messages before its fsync (a broken variant). */
  readonly sendBeforeSync: boolean;
  /** Test-only when false: apply retried writes twice (a broken variant). */
  readonly dedup: boolean;
  readonly fsyncMinUs: number;
  readonly fsyncJitterUs: number;
  /** Crashes keep a torn prefix of the unsynced writes (see SimDisk.crash). */
  readonly tearOnCrash: boolean;
  /** Entries kept before the snapshot index when compacting, for slow followers. */
  readonly snapshotKeepEntries: number;
}

/** What a node needs from the simulation around it. */
export interface NodeRuntime {
  readonly world: SimWorld;
  readonly network: SimNetwork;
  readonly checks: SafetyChecks;
  readonly settings: NodeSettings;
  /** The node with this id, if it exists. */
  node(id: NodeId): SimNode | undefined;
  /** Sends a response to a client through the network. */
  sendToClient(from: NodeId, response: KvResponse): void;
  /** Told after a node applied a membership change. */
  onConfChangeApplied(nodeId: NodeId, change: ConfChange): void;
  /** Told when a node becomes leader. */
  onLeaderElected(nodeId: NodeId, term: number): void;
  /** Told when a leader's commit index moves for the first time in its term. */
  onLeaderFirstCommit(nodeId: NodeId, term: number): void;
}

/** A read that has its read index and waits for the state machine to reach it. */
interface WaitingRead {
  readonly request: KvRequest;
  readonly index: number;
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

/** A read context unique in the cluster: node id, incarnation, sequence number. */
function readContext(id: number, incarnation: number, seq: number): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, id);
  view.setUint16(2, incarnation);
  view.setUint32(4, seq);
  return bytes;
}

function contextNumber(context: Uint8Array): number {
  if (context.byteLength !== 8) {
    return -1;
  }
  const view = new DataView(context.buffer, context.byteOffset, 8);
  return view.getUint32(0) * 2 ** 32 + view.getUint32(4);
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const where = error.stack?.split('\n')[1]?.trim() ?? '';
    return `${error.name}: ${error.message} ${where}`;
  }
  return String(error);
}

/** The process of one node: its RawNode, disk, state machine and clock. */
export class SimNode {
  readonly id: NodeId;
  readonly disk: SimDisk;
  /** Simulated microseconds between this node's ticks (its clock rate). */
  readonly periodUs: number;
  up = false;
  /** Left the cluster and was shut down; only a re-add starts it again. */
  decommissioned = false;
  readonly #runtime: NodeRuntime;
  readonly #random: SeededRandom;
  #raw: RawNode | undefined;
  #storage: MemoryStorage | undefined;
  #sm: KvStateMachine | undefined;
  #clock: NodeClock | undefined;
  #incarnation = 0;
  #busy = false;
  #pausedUntilUs = 0;
  #deferred: (() => void)[] = [];
  #tickPending = false;
  #staged: Uint8Array[] = [];
  #snapshotData: Uint8Array = new Uint8Array(0);
  #pendingWrites = new Map<string, KvRequest>();
  #pendingReads = new Map<number, KvRequest>();
  #waitingReads: WaitingRead[] = [];
  #readSeq = 0;
  /** Role, term and leader last noted in the trace; commit: at election, -1 once it moved. */
  #noted: { role: string; term: number; leader: number; commit: number } = {
    role: '',
    term: -1,
    leader: -1,
    commit: -1,
  };

  constructor(options: { id: NodeId; disk: SimDisk; runtime: NodeRuntime; periodUs: number }) {
    this.id = options.id;
    this.disk = options.disk;
    this.#runtime = options.runtime;
    this.periodUs = options.periodUs;
    this.#random = options.runtime.world.random.fork();
  }

  /** The RawNode of the running incarnation. */
  get raw(): RawNode {
    if (this.#raw === undefined) {
      throw new Error(`Node ${this.id} has never started`);
    }
    return this.#raw;
  }

  /** The Raft state of the running incarnation. */
  get raft(): Raft {
    return this.raw.raft;
  }

  /** Hash of the state machine. */
  stateHash(): number {
    return this.#sm?.hash() ?? 0;
  }

  #now(): number {
    return this.#runtime.world.nowUs;
  }

  #note(text: string): void {
    this.#runtime.world.trace.note(this.#now(), `n${this.id} ${text}`);
  }

  /** Starts (or restarts) the process from what its disk holds. */
  start(): void {
    const runtime = this.#runtime;
    this.#incarnation++;
    this.decommissioned = false;
    try {
      const recovered = this.disk.recover();
      const config = makeConfig({
        ...runtime.settings.raft,
        id: this.id,
        storage: recovered.storage,
        randomInt: (n) => this.#random.int(n),
        appliedIndex: recovered.snapshotIndex,
      });
      const factory = runtime.settings.raftFactory;
      const raft = factory === undefined ? new Raft(config) : factory(config);
      this.#raw = new RawNode(raft);
      this.#storage = recovered.storage;
      this.#sm = new KvStateMachine({ dedup: runtime.settings.dedup });
      this.#sm.restore(recovered.snapshotData);
      this.#clock = new NodeClock({ originUs: this.#now(), periodUs: this.periodUs });
      this.up = true;
      const hs = recovered.storage.hardState();
      this.#note(
        `started: term ${hs.term} vote ${hs.vote} commit ${hs.commit} log ${recovered.storage.firstIndex()}..${recovered.storage.lastIndex()} snapshot ${recovered.snapshotIndex}`,
      );
      runtime.checks.registerNode(this.id, {
        raft,
        appliedIndex: recovered.snapshotIndex,
        stateHash: this.#sm.hash(),
      });
    } catch (error) {
      runtime.checks.fail(
        SimProperty.coreInvariant,
        `Node ${this.id} cannot restart: ${describeError(error)}`,
      );
      return;
    }
    this.#scheduleTick();
    this.#run(() => undefined);
  }

  /** Kills the process: volatile state is gone and unsynced writes are lost (or torn). */
  crash(options: { decommission: boolean }): void {
    if (!this.up) {
      return;
    }
    this.up = false;
    this.decommissioned = options.decommission;
    this.#incarnation++;
    this.#busy = false;
    this.#pausedUntilUs = 0;
    this.#deferred = [];
    this.#tickPending = false;
    this.#staged = [];
    this.#pendingWrites.clear();
    this.#pendingReads.clear();
    this.#waitingReads = [];
    this.#runtime.checks.forgetNode(this.id);
    const report = this.disk.crash(this.#runtime.world.random, this.#runtime.settings.tearOnCrash);
    const verb = options.decommission ? 'shut down' : 'crashed';
    this.#note(
      `${verb}: ${report.unsyncedCount} unsynced writes, ${report.keptCount} kept${report.torn ? ', next one torn' : ''}`,
    );
  }

  /** Freezes the process for a while (a GC stall); work arriving meanwhile waits. */
  pause(durationUs: number): void {
    if (!this.up) {
      return;
    }
    const until = Math.max(this.#pausedUntilUs, this.#now() + durationUs);
    this.#pausedUntilUs = until;
    this.#note(`paused until ${until}us`);
    const incarnation = this.#incarnation;
    this.#runtime.world.at(until, () => {
      if (incarnation === this.#incarnation) {
        this.#resume();
      }
    });
  }

  #isPaused(): boolean {
    return this.#pausedUntilUs > this.#now();
  }

  #resume(): void {
    if (!this.up || this.#isPaused() || this.#pausedUntilUs === 0) {
      return;
    }
    this.#pausedUntilUs = 0;
    const work = this.#deferred;
    this.#deferred = [];
    this.#note(`resumed with ${work.length} queued events`);
    this.#run(() => undefined); // missed ticks first (see #run)
    for (const fn of work) {
      this.#run(fn);
    }
    this.#scheduleTick();
  }

  #scheduleTick(): void {
    const clock = this.#clock;
    if (this.#tickPending || clock === undefined || !this.up) {
      return;
    }
    this.#tickPending = true;
    const incarnation = this.#incarnation;
    this.#runtime.world.at(clock.nextTickTimeUs(), () => {
      if (incarnation !== this.#incarnation) {
        return;
      }
      this.#tickPending = false;
      if (this.#isPaused()) {
        return; // #resume schedules the next tick
      }
      this.#run(() => undefined);
      this.#scheduleTick();
    });
  }

  /**
   * Runs one piece of work on the node: deferred while paused; otherwise the missed ticks
   * first, then the work, then as many Ready batches as can go, then the checks.
   */
  #run(work: () => void): void {
    if (!this.up) {
      return;
    }
    if (this.#isPaused()) {
      this.#deferred.push(work);
      return;
    }
    try {
      this.#catchUpTicks();
      work();
      this.#pump();
    } catch (error) {
      this.#runtime.checks.fail(
        SimProperty.coreInvariant,
        `Node ${this.id}: ${describeError(error)}`,
      );
    }
    this.#observe();
  }

  #catchUpTicks(): void {
    const clock = this.#clock;
    if (clock === undefined) {
      return;
    }
    const due = clock.dueTicks(this.#now());
    while (clock.ticksDelivered < due) {
      clock.ticksDelivered++;
      this.raw.tick();
      this.#observe();
    }
  }

  #observe(): void {
    if (!this.up) {
      return;
    }
    this.#runtime.checks.observeNode(this.id);
    const raft = this.raft;
    const noted = this.#noted;
    if (
      raft.role === 'leader' &&
      noted.role === 'leader' &&
      noted.term === raft.term &&
      noted.commit >= 0 &&
      raft.log.committed > noted.commit
    ) {
      noted.commit = -1;
      this.#runtime.onLeaderFirstCommit(this.id, raft.term);
    }
    if (noted.role !== raft.role || noted.term !== raft.term || noted.leader !== raft.leader) {
      const wasLeader = noted.role === 'leader' && noted.term === raft.term;
      this.#noted = {
        role: raft.role,
        term: raft.term,
        leader: raft.leader,
        commit: raft.log.committed,
      };
      this.#note(
        `is ${raft.role} t${raft.term} leader ${raft.leader} (commit ${raft.log.committed}, last ${raft.log.lastIndex()}/t${raft.log.lastTerm()})`,
      );
      if (raft.role === 'leader' && !wasLeader) {
        this.#runtime.onLeaderElected(this.id, raft.term);
      }
    }
  }

  #pump(): void {
    for (let i = 0; i < 100 && this.up && !this.#busy && this.raw.hasReady(); i++) {
      this.#handleReady();
    }
  }

  #handleReady(): void {
    const ready = this.raw.ready();
    const settings = this.#runtime.settings;
    const persisted = this.#storage?.initialState().hardState;
    const split =
      settings.sendBeforeSync || persisted === undefined
        ? { early: ready.messages, late: [] }
        : splitForPersist(ready, persisted);
    this.#send(split.early);
    this.#persist(ready);
    if (!ready.mustSync) {
      this.#finishReady(ready, split.late);
      return;
    }
    this.#busy = true;
    const incarnation = this.#incarnation;
    const latency =
      settings.fsyncMinUs + this.#runtime.world.random.int(settings.fsyncJitterUs + 1);
    this.#runtime.world.after(latency, () => {
      if (incarnation === this.#incarnation) {
        this.#run(() => {
          this.#finishReady(ready, split.late);
        });
      }
    });
  }

  #persist(ready: Ready): void {
    const storage = this.#storage;
    if (storage === undefined) {
      return;
    }
    for (const chunk of ready.snapshotChunks) {
      if (chunk.offsetBytes === 0) {
        this.#staged = [];
      }
      this.#staged.push(chunk.data);
    }
    if (ready.snapshot !== undefined) {
      const data = concat(this.#staged);
      this.#staged = [];
      this.#snapshotData = data;
      this.disk.write({ kind: 'snapshot', metadata: ready.snapshot, data });
      storage.applySnapshot(ready.snapshot, data);
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      this.#runtime.checks.observeEntries(
        this.id,
        ready.entries,
        storage.term((first.index - 1) as Entry['index']),
      );
      this.disk.write({ kind: 'entries', entries: ready.entries });
      storage.append(ready.entries);
    }
    if (ready.hardState !== undefined) {
      this.disk.write({ kind: 'hardState', hardState: ready.hardState });
      storage.setHardState(ready.hardState);
    }
  }

  #send(messages: readonly Message[]): void {
    const runtime = this.#runtime;
    for (const m of messages) {
      const copies = runtime.network.transmit(m.from, m.to, () => runtime.node(m.to)?.receive(m));
      if (copies === 0) {
        const why = runtime.network.isBlocked(m.from, m.to) ? 'link cut' : 'dropped';
        runtime.world.trace.add({ timeUs: this.#now(), kind: 'drop', message: m, text: why });
      }
    }
  }

  #finishReady(ready: Ready, late: readonly Message[]): void {
    if (ready.mustSync) {
      this.disk.sync();
    }
    this.#send(late);
    const sm = this.#sm;
    if (sm === undefined) {
      return;
    }
    if (ready.snapshot !== undefined) {
      sm.restore(this.#snapshotData);
      this.#note(`installed snapshot at ${ready.snapshot.index}/t${ready.snapshot.term}`);
      this.#runtime.checks.observeSnapshotInstall(this.id, ready.snapshot, sm.hash());
    }
    const changes: ConfChange[] = [];
    for (const entry of ready.committedEntries) {
      this.#apply(sm, entry, changes);
    }
    for (const rs of ready.readStates) {
      const request = this.#pendingReads.get(contextNumber(rs.context));
      if (request !== undefined) {
        this.#pendingReads.delete(contextNumber(rs.context));
        this.#waitingReads.push({ request, index: rs.index });
        this.#runtime.checks.observeReadIndex(this.id, {
          index: rs.index,
          committedAtSend: request.committedAtSend,
          description: `client ${request.clientId} op ${request.opId} attempt ${request.attempt}`,
        });
      }
    }
    this.raw.advance(ready);
    this.#busy = false;
    this.#serveReads(sm);
    for (const change of changes) {
      this.#runtime.onConfChangeApplied(this.id, change);
    }
    if (ready.snapshotWanted) {
      this.#takeSnapshot();
    }
  }

  #apply(sm: KvStateMachine, entry: Entry, changes: ConfChange[]): void {
    const result = sm.apply(entry);
    this.#runtime.checks.observeApply(this.id, entry, sm.hash());
    if (entry.type === EntryType.confChange) {
      const change = decodeConfChange(entry.data);
      if (change !== undefined) {
        changes.push(change);
      }
    }
    if (result === undefined) {
      return;
    }
    const key = `${result.clientId}:${result.seq}`;
    const request = this.#pendingWrites.get(key);
    if (request !== undefined) {
      this.#pendingWrites.delete(key);
      this.#runtime.sendToClient(this.id, { kind: 'ok', request, output: result.output });
    }
  }

  #serveReads(sm: KvStateMachine): void {
    if (this.#waitingReads.length === 0) {
      return;
    }
    const applied = this.raft.log.applied;
    const still: WaitingRead[] = [];
    for (const waiting of this.#waitingReads) {
      if (waiting.index > applied) {
        still.push(waiting);
        continue;
      }
      const input = waiting.request.input;
      this.#runtime.sendToClient(this.id, {
        kind: 'ok',
        request: waiting.request,
        output: { value: sm.get(input.key) },
      });
    }
    this.#waitingReads = still;
  }

  /** Takes a snapshot of the applied state and compacts the log, when no Ready is in flight. */
  #takeSnapshot(): void {
    const storage = this.#storage;
    const sm = this.#sm;
    if (this.#busy || storage === undefined || sm === undefined) {
      return;
    }
    const raft = this.raft;
    const applied = raft.log.applied;
    if (applied <= storage.snapshotMetadata().index) {
      return;
    }
    const data = sm.snapshot();
    const metadata = storage.createSnapshot(applied, { confState: raft.confState(), data });
    const keep = this.#runtime.settings.snapshotKeepEntries;
    const compactTo = Math.max(storage.firstIndex() - 1, applied - keep) as Entry['index'];
    storage.compact(compactTo);
    this.disk.saveLocalSnapshot({ metadata, data }, compactTo);
    this.#note(`took snapshot at ${applied}, compacted to ${compactTo}`);
  }

  /** Delivers a peer message to this node. */
  receive(m: Message): void {
    if (!this.up) {
      this.#runtime.world.trace.add({
        timeUs: this.#now(),
        kind: 'drop',
        message: m,
        text: 'node down',
      });
      return;
    }
    this.#run(() => {
      this.#runtime.world.trace.add({ timeUs: this.#now(), kind: 'deliver', message: m, text: '' });
      this.raw.step(m);
    });
  }

  /**
   * Tells this node that its transport's connection to `peer` broke (RawNode.reportPeerLost):
   * what a real node sees when a peer's process dies.
   */
  peerLost(peer: NodeId): void {
    if (this.up) {
      this.#run(() => {
        this.raw.reportPeerLost(peer);
      });
    }
  }

  /** Delivers a client request to this node. */
  request(request: KvRequest): void {
    this.#run(() => {
      this.#handleRequest(request);
    });
  }

  #reply(request: KvRequest, result: RaftResult): void {
    if (result.ok) {
      return;
    }
    const response: KvResponse =
      result.code === RaftErrorCode.notLeader
        ? { kind: 'notLeader', request, leaderHint: result.leaderHint ?? 0 }
        : { kind: 'retry', request };
    this.#runtime.sendToClient(this.id, response);
  }

  #handleRequest(request: KvRequest): void {
    const input = request.input;
    if (input.kind === 'get') {
      this.#readSeq++;
      const context = readContext(this.id, this.#incarnation % 65_536, this.#readSeq);
      const result = this.raw.readIndex(context);
      if (result.ok) {
        this.#pendingReads.set(contextNumber(context), request);
      }
      this.#reply(request, result);
      return;
    }
    const raft = this.raft;
    if (raft.role !== 'leader') {
      this.#runtime.sendToClient(this.id, { kind: 'notLeader', request, leaderHint: raft.leader });
      return;
    }
    const data = encodeCommand({ clientId: request.clientId, seq: request.seq, input });
    const result = this.raw.propose([data]);
    if (result.ok) {
      this.#pendingWrites.set(`${request.clientId}:${request.seq}`, request);
    }
    this.#reply(request, result);
  }

  /** Runs an operator action now; undefined when the process is down or paused. */
  #admin(action: () => RaftResult): RaftResult | undefined {
    if (!this.up || this.#isPaused()) {
      return undefined;
    }
    let result: RaftResult | undefined;
    this.#run(() => {
      result = action();
    });
    return result;
  }

  /** Proposes a membership change on this node. */
  proposeConfChange(change: ConfChange): RaftResult | undefined {
    const result = this.#admin(() => this.raw.proposeConfChange(change));
    this.#note(
      `propose ${change.type} ${change.nodeId}: ${result === undefined ? 'unavailable' : result.ok ? 'accepted' : result.code}`,
    );
    return result;
  }

  /** Asks this node to hand leadership to another voter. */
  transferLeader(to: NodeId): RaftResult | undefined {
    const result = this.#admin(() => this.raw.transferLeader(to));
    this.#note(
      `transfer leadership to ${to}: ${result === undefined ? 'unavailable' : result.ok ? 'accepted' : result.code}`,
    );
    return result;
  }

  /** Takes a snapshot and compacts now, if no Ready is in flight. */
  forceSnapshot(): void {
    this.#run(() => {
      this.#takeSnapshot();
    });
  }

  /** True while a Ready waits for its fsync: a crash now loses what it wrote. */
  isSyncing(): boolean {
    return this.up && this.#busy;
  }

  /** True when this node is up and currently believes it leads. */
  isLeader(): boolean {
    return this.up && this.#raw?.raft.role === 'leader';
  }

  /** True when this node's applied membership lists id as a voter or learner. */
  hasMember(id: NodeId): boolean {
    const raft = this.raft;
    return raft.voters.includes(id) || raft.learners.includes(id);
  }
}

/** Whether a membership change adds the node as a voter or learner (rather than removing it). */
export function keepsNode(change: ConfChange): boolean {
  return change.type !== ConfChangeType.removeNode;
}
