/**
 * The Raft driver: runs one RawNode against real time, a durable log, a state machine and a
 * transport. Its loop is the one documented infinite loop (STYLE.md §3.5):
 *
 *   wait for work → deliver the ticks that elapsed → drain the control inbox (votes,
 *   heartbeats, responses) → drain the data inbox (appends, snapshot chunks) → hand all queued
 *   proposals to the core as one batch → for each Ready: stage snapshot chunks, send a
 *   leader's appends and heartbeats, persist entries and hard state as one synced batch, send
 *   the other messages, apply committed entries, advance (etcd's order, STYLE.md §3.4, with
 *   the leader's early send of Raft thesis §10.2.1: see early_messages.ts).
 *
 * Group commit falls out of the loop: proposals that arrive while a batch is being synced wait
 * in the queue and share the next fsync.
 *
 * Invariant: nothing is acknowledged (no vote or acknowledgement sent, no proposal answered)
 * before the batch it depends on is durable. A failed write stops the node for good (COFFER_RAFT_STOPPED).
 */
import {
  accepted,
  asNodeId,
  MessageType,
  RaftError,
  RaftErrorCode,
  RawNode,
  refuse,
  silentLogger,
  type ConfChange,
  type Entry,
  type LogIndex,
  type Message,
  type NodeId,
  type RaftConfigInput,
  type RaftLogger,
  type RaftResult,
  type SoftState,
  type Ready,
  type Term,
} from '../index.ts';
import { splitForPersist } from './early_messages.ts';
import type { DriverClock, DurableLog, StateMachine, Transport } from './ports.ts';

/** The outcome of a proposal: its index and the state machine's answer, or a refusal. */
export type ProposalOutcome =
  | { readonly ok: true; readonly index: LogIndex; readonly result: Uint8Array }
  | Extract<RaftResult, { ok: false }>;

/** Options of a driver; `raft` takes any core config field except the ports. */
export interface RaftNodeOptions {
  readonly id: number;
  readonly log: DurableLog;
  readonly stateMachine: StateMachine;
  readonly transport: Transport;
  readonly clock: DriverClock;
  readonly randomInt: (maxExclusive: number) => number;
  readonly raft?: Partial<Omit<RaftConfigInput, 'id' | 'storage' | 'randomInt' | 'appliedIndex'>>;
  /** Milliseconds per Raft tick. */
  readonly tickIntervalMs?: number;
  /** Votes, heartbeats and responses queued before new ones are dropped. */
  readonly controlInboxMessagesMax?: number;
  /** Appends and snapshot chunks queued before new ones are dropped (Raft resends). */
  readonly dataInboxMessagesMax?: number;
  /** Proposals queued before propose() answers COFFER_RAFT_BUSY. */
  readonly proposalsQueuedMax?: number;
  /** How long a proposal or read may wait before COFFER_RAFT_TIMEOUT. */
  readonly requestTimeoutMs?: number;
  /**
   * How long a read waits for its read index before asking again under a new context (etcd
   * retries every 500 ms too). A ReadIndex request or answer lost on the way (a stream to the
   * leader reconnecting) is never answered, and the leader ignores a context it already
   * answered, so the new request has its own.
   */
  readonly readIndexRetryMs?: number;
  /** Entries kept behind a snapshot so that slow followers can catch up without one. */
  readonly snapshotKeepEntries?: number;
  readonly logger?: RaftLogger;
  /**
   * Told when this node's view of the leader or its role changes (noNode: none known), after
   * the Ready that changed it was handled: pushed, so standbys need not poll for a new leader.
   */
  readonly onLeaderChange?: (change: {
    readonly leaderId: number;
    readonly term: number;
    readonly role: SoftState['role'];
  }) => void;
}

interface Waiter {
  readonly term: Term;
  readonly deadlineMs: number;
  readonly resolve: (outcome: ProposalOutcome) => void;
}

interface ReadWaiter {
  index: LogIndex | undefined;
  readonly deadlineMs: number;
  /** When to ask again if the read index has not come by then. */
  retryAtMs: number;
  readonly resolve: (outcome: RaftResult) => void;
  readonly onIndex: (() => void) | undefined;
  /** Who led, and this node's role, when the round was asked for. */
  readonly leaderAtStart: number;
  readonly roleAtStart: string;
}

/** Options of {@link RaftNode.readBarrier}. */
export interface ReadBarrierOptions {
  /**
   * Called once the leader has answered with the read index (what is left is applying up to
   * it locally); never called when the round fails first.
   */
  readonly onIndex?: () => void;
}

const controlTypes = new Set<string>([
  MessageType.vote,
  MessageType.voteResponse,
  MessageType.preVote,
  MessageType.preVoteResponse,
  MessageType.heartbeat,
  MessageType.heartbeatResponse,
  MessageType.appendResponse,
  MessageType.snapshotResponse,
  MessageType.readIndex,
  MessageType.readIndexResponse,
  MessageType.timeoutNow,
]);

type DriverLimits = Required<
  Pick<
    RaftNodeOptions,
    | 'tickIntervalMs'
    | 'controlInboxMessagesMax'
    | 'dataInboxMessagesMax'
    | 'proposalsQueuedMax'
    | 'requestTimeoutMs'
    | 'readIndexRetryMs'
    | 'snapshotKeepEntries'
  >
>;

const defaults: DriverLimits = {
  tickIntervalMs: 100,
  controlInboxMessagesMax: 4096,
  dataInboxMessagesMax: 1024,
  proposalsQueuedMax: 65_536,
  requestTimeoutMs: 10_000,
  readIndexRetryMs: 500,
  snapshotKeepEntries: 1000,
};

/** One Raft node running for real. Create it with {@link RaftNode.start}. */
export class RaftNode {
  readonly id: NodeId;
  readonly raw: RawNode;
  readonly #options: RaftNodeOptions & DriverLimits;
  readonly #logger: RaftLogger;
  #controlInbox: Message[] = [];
  #dataInbox: Message[] = [];
  #queuedProposals: { data: Uint8Array; resolve: (o: ProposalOutcome) => void }[] = [];
  readonly #proposalWaiters = new Map<LogIndex, Waiter>();
  readonly #readWaiters = new Map<string, ReadWaiter>();
  #readSequence = 0;
  /** When (clock ms) a message from each peer last arrived: autopilot's last contact. */
  readonly #lastHeardMs = new Map<number, number>();
  #lastTickMs: number;
  #wake: (() => void) | undefined = undefined;
  #workPending = false;
  #timer: { cancel(): void } | undefined = undefined;
  #running = true;
  #failure: RaftError | undefined = undefined;
  #loop: Promise<void> = Promise.resolve();
  /** The snapshot being saved in the background, if any. */
  #snapshotSaving: Promise<void> | undefined = undefined;

  private constructor(raw: RawNode, options: RaftNodeOptions & DriverLimits) {
    this.raw = raw;
    this.id = asNodeId(options.id);
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#lastTickMs = options.clock.nowMs();
  }

  /** Restores the state machine from the log's snapshot if needed and starts the loop. */
  static async start(input: RaftNodeOptions): Promise<RaftNode> {
    const options = { ...defaults, ...input };
    const snapshot = options.log.snapshotMetadata();
    if (options.stateMachine.appliedIndex() < snapshot.index) {
      await options.stateMachine.restore(snapshot, options.log.snapshotData());
    }
    const raw = new RawNode({
      ...options.raft,
      id: asNodeId(options.id),
      storage: options.log,
      randomInt: options.randomInt,
      appliedIndex: options.stateMachine.appliedIndex(),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
    const node = new RaftNode(raw, options);
    options.transport.listen((m) => {
      node.#receive(m);
    });
    options.transport.onPeerLost?.((peerId) => {
      if (node.#running) {
        node.raw.reportPeerLost(asNodeId(peerId));
        node.#signal();
      }
    });
    node.#scheduleTick();
    node.#loop = node.#run();
    return node;
  }

  /** Proposes one command; resolves when it is applied, with the state machine's answer. */
  propose(data: Uint8Array): Promise<ProposalOutcome> {
    if (!this.#running) {
      return Promise.resolve(this.#stoppedRefusal());
    }
    if (this.#queuedProposals.length >= this.#options.proposalsQueuedMax) {
      return Promise.resolve(
        refuse(
          RaftErrorCode.busy,
          `Retry later: ${this.#queuedProposals.length} proposals are queued on node ${this.id}`,
        ) as ProposalOutcome,
      );
    }
    return new Promise((resolve) => {
      this.#queuedProposals.push({ data, resolve });
      this.#signal();
    });
  }

  /** Waits until this node has applied everything committed before the call (ReadIndex). */
  readBarrier(options: ReadBarrierOptions = {}): Promise<RaftResult> {
    if (!this.#running) {
      return Promise.resolve(this.#stoppedRefusal());
    }
    const key = this.#nextReadContext();
    const result = this.raw.readIndex(new TextEncoder().encode(key));
    if (!result.ok) {
      return Promise.resolve(result);
    }
    this.#signal();
    const now = this.#options.clock.nowMs();
    return new Promise((resolve) => {
      this.#readWaiters.set(key, {
        index: undefined,
        deadlineMs: now + this.#options.requestTimeoutMs,
        retryAtMs: now + this.#options.readIndexRetryMs,
        resolve,
        onIndex: options.onIndex,
        leaderAtStart: this.raw.raft.leader,
        roleAtStart: this.raw.raft.role,
      });
    });
  }

  #nextReadContext(): string {
    return `${this.id}:${++this.#readSequence}`;
  }

  /** Proposes a single-server membership change. */
  proposeConfChange(change: ConfChange): RaftResult {
    const result = this.raw.proposeConfChange(change);
    this.#signal();
    return result;
  }

  /** Hands leadership to another voter. */
  transferLeadership(to: number): RaftResult {
    const result = this.raw.transferLeader(asNodeId(to));
    this.#signal();
    return result;
  }

  /** Starts an election now. */
  campaign(): void {
    this.raw.campaign();
    this.#signal();
  }

  /** The failure that stopped the node, if any. */
  /** When (this node's clock, ms) a message from peerId last arrived; undefined: never. */
  lastHeardFromMs(peerId: number): number | undefined {
    return this.#lastHeardMs.get(peerId);
  }

  failure(): RaftError | undefined {
    return this.#failure;
  }

  /** Stops the loop, answers every waiter COFFER_RAFT_STOPPED and closes the ports. */
  async stop(): Promise<void> {
    if (this.#running) {
      this.#running = false;
      this.#signal();
    }
    await this.#loop;
    await this.#snapshotSaving?.catch(() => undefined);
    this.#timer?.cancel();
    this.#failAll();
    await this.#options.transport.close();
    await this.#options.log.close();
  }

  #stoppedRefusal(): ProposalOutcome {
    const reason =
      this.#failure === undefined ? 'it was stopped' : `it failed: ${this.#failure.code}`;
    return refuse(
      RaftErrorCode.stopped,
      `Send this to another node: node ${this.id} stopped because ${reason}; the outcome of a proposal in flight is unknown`,
    ) as ProposalOutcome;
  }

  #receive(m: Message): void {
    if (!this.#running) {
      return;
    }
    this.#lastHeardMs.set(m.from, this.#options.clock.nowMs());
    const control = controlTypes.has(m.type);
    const inbox = control ? this.#controlInbox : this.#dataInbox;
    const max = control
      ? this.#options.controlInboxMessagesMax
      : this.#options.dataInboxMessagesMax;
    if (inbox.length >= max) {
      return; // NB: dropped on purpose; Raft resends what matters
    }
    inbox.push(m);
    this.#signal();
  }

  #scheduleTick(): void {
    this.#timer = this.#options.clock.setTimer(this.#options.tickIntervalMs, () => {
      if (this.#running) {
        this.#signal();
        this.#scheduleTick();
      }
    });
  }

  #signal(): void {
    this.#workPending = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #waitForWork(): Promise<void> {
    if (this.#workPending) {
      return;
    }
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
  }

  async #run(): Promise<void> {
    while (this.#running) {
      await this.#waitForWork();
      this.#workPending = false;
      try {
        await this.#round();
      } catch (error) {
        this.#fail(error);
      }
    }
  }

  async #round(): Promise<void> {
    this.#deliverTicks();
    for (const m of this.#takeAll('control')) {
      this.raw.step(m);
    }
    for (const m of this.#takeAll('data')) {
      this.raw.step(m);
    }
    this.#proposeQueued();
    while (this.#running && this.raw.hasReady()) {
      await this.#handleReady(this.raw.ready());
    }
    this.#expireWaiters();
  }

  #takeAll(which: 'control' | 'data'): Message[] {
    const taken = which === 'control' ? this.#controlInbox : this.#dataInbox;
    if (which === 'control') {
      this.#controlInbox = [];
    } else {
      this.#dataInbox = [];
    }
    return taken;
  }

  /** Turns elapsed monotonic time into ticks, so a paused node catches up before anything else. */
  #deliverTicks(): void {
    const now = this.#options.clock.nowMs();
    const interval = this.#options.tickIntervalMs;
    while (now - this.#lastTickMs >= interval) {
      this.raw.tick();
      this.#lastTickMs += interval;
    }
  }

  #proposeQueued(): void {
    const queued = this.#queuedProposals;
    if (queued.length === 0) {
      return;
    }
    this.#queuedProposals = [];
    const result = this.raw.propose(queued.map((p) => p.data));
    if (!result.ok) {
      for (const p of queued) {
        p.resolve(result);
      }
      return;
    }
    const last = this.raw.raft.log.lastIndex();
    const term = this.raw.raft.term;
    const deadlineMs = this.#options.clock.nowMs() + this.#options.requestTimeoutMs;
    queued.forEach((p, i) => {
      const index = (last - queued.length + 1 + i) as LogIndex;
      this.#proposalWaiters.set(index, { term, deadlineMs, resolve: p.resolve });
    });
  }

  async #handleReady(ready: Ready): Promise<void> {
    const { log, stateMachine, transport } = this.#options;
    for (const chunk of ready.snapshotChunks) {
      await log.stageSnapshotChunk(chunk);
    }
    // Reference: Raft thesis §10.2.1 — a leader's appends leave before its own fsync.
    const { early, late } = splitForPersist(ready, log.initialState().hardState);
    transport.send(early);
    await log.persist(
      { hardState: ready.hardState, entries: ready.entries, installSnapshot: ready.snapshot },
      { sync: ready.mustSync },
    );
    transport.send(late);
    if (ready.snapshot !== undefined) {
      await stateMachine.restore(ready.snapshot, log.snapshotData());
    }
    const results = await stateMachine.apply(ready.committedEntries);
    this.#answerProposals(ready.committedEntries, results);
    for (const state of ready.readStates) {
      const waiter = this.#readWaiters.get(new TextDecoder().decode(state.context));
      if (waiter !== undefined && waiter.index === undefined) {
        waiter.index = state.index;
        waiter.onIndex?.();
      }
    }
    this.raw.advance(ready);
    this.#answerReads();
    if (ready.softState !== undefined) {
      this.#refuseUnansweredReads(ready.softState);
      this.#options.onLeaderChange?.({
        leaderId: ready.softState.leader,
        term: this.raw.raft.term,
        role: ready.softState.role,
      });
    }
    if (ready.snapshotWanted && this.#snapshotSaving === undefined) {
      const saving = this.#saveSnapshot();
      this.#snapshotSaving = saving;
      // NB: the save streams in the background while the loop goes on; a failure stops the
      // node like any other storage failure.
      saving.then(
        () => {
          this.#snapshotSaving = undefined;
        },
        (error: unknown) => {
          this.#snapshotSaving = undefined;
          this.#fail(error);
        },
      );
    }
  }

  #answerProposals(entries: readonly Entry[], results: readonly Uint8Array[]): void {
    entries.forEach((entry, i) => {
      const waiter = this.#proposalWaiters.get(entry.index);
      if (waiter === undefined) {
        return;
      }
      this.#proposalWaiters.delete(entry.index);
      if (entry.term === waiter.term) {
        waiter.resolve({ ok: true, index: entry.index, result: results[i] ?? new Uint8Array(0) });
      } else {
        waiter.resolve(
          refuse(
            RaftErrorCode.proposalDropped,
            `Retry: a new leader replaced the entry at index ${entry.index}`,
          ) as ProposalOutcome,
        );
      }
    });
  }

  #answerReads(): void {
    const applied = this.raw.raft.log.applied;
    for (const [key, waiter] of this.#readWaiters) {
      if (waiter.index !== undefined && waiter.index <= applied) {
        this.#readWaiters.delete(key);
        waiter.resolve(accepted);
      }
    }
  }

  /**
   * The leader or this node's role changed: a read round not answered yet never will be (a
   * leader that stepped down dropped its pending rounds, and a new leader never saw one sent
   * to the old), so it fails now rather than at the request timeout, and its caller retries
   * on whoever leads. A round already answered only waits to apply, and goes on; so does one
   * asked for under the leader and role the change reports.
   */
  #refuseUnansweredReads(now: { readonly leader: number; readonly role: string }): void {
    const refusal = refuse(
      RaftErrorCode.notLeader,
      'Retry the read: the leader changed before it confirmed the read index',
    );
    for (const [key, waiter] of this.#readWaiters) {
      // NB: a Ready reports a change that may predate a round asked for since (a new leader's
      // first reads): such a round was asked of the current leader and goes on.
      const askedBefore = waiter.leaderAtStart !== now.leader || waiter.roleAtStart !== now.role;
      if (waiter.index === undefined && askedBefore) {
        this.#readWaiters.delete(key);
        waiter.resolve(refusal);
      }
    }
  }

  #expireWaiters(): void {
    const now = this.#options.clock.nowMs();
    const timeout = refuse(
      RaftErrorCode.timeout,
      `Retry: no answer from node ${this.id} in ${this.#options.requestTimeoutMs} ms; the outcome is unknown`,
    );
    for (const [index, waiter] of this.#proposalWaiters) {
      if (waiter.deadlineMs <= now) {
        this.#proposalWaiters.delete(index);
        waiter.resolve(timeout as ProposalOutcome);
      }
    }
    for (const [key, waiter] of this.#readWaiters) {
      if (waiter.deadlineMs <= now) {
        this.#readWaiters.delete(key);
        waiter.resolve(timeout);
      } else if (waiter.index === undefined && waiter.retryAtMs <= now) {
        this.#askReadIndexAgain(key, waiter, now);
      }
    }
  }

  /**
   * Asks for the read index of an unanswered read again, under a new context: its answer is a
   * later read point than the first request's, still within the caller's wait. A late answer
   * to the old context is ignored.
   */
  #askReadIndexAgain(key: string, waiter: ReadWaiter, now: number): void {
    waiter.retryAtMs = now + this.#options.readIndexRetryMs;
    const again = this.#nextReadContext();
    if (!this.raw.readIndex(new TextEncoder().encode(again)).ok) {
      return; // no leader now: a leader change refuses the read, or a later retry asks again
    }
    this.#readWaiters.delete(key);
    this.#readWaiters.set(again, waiter);
    this.#signal();
  }

  /**
   * Snapshots the state machine at the applied index and saves it in the log, which then
   * compacts. Called between Readys, so the state machine pins exactly what was applied.
   */
  async #saveSnapshot(): Promise<void> {
    const raft = this.raw.raft;
    const index = raft.log.applied;
    const term = raft.log.term(index);
    // NB: nothing new to capture (a snapshot at or below the current one would be refused).
    if (term === undefined || index <= raft.log.snapshotMetadata().index) {
      return;
    }
    const metadata = { index, term, confState: raft.confState() };
    const source = await this.#options.stateMachine.snapshot(metadata);
    try {
      await this.#options.log.saveSnapshot(
        { metadata, chunks: source.chunks },
        { keepEntries: this.#options.snapshotKeepEntries },
      );
    } finally {
      await source.close();
    }
  }

  #fail(error: unknown): void {
    this.#failure =
      error instanceof RaftError
        ? error
        : new RaftError(
            RaftErrorCode.stopped,
            `Node ${this.id} stopped after a storage or apply failure`,
            { cause: error },
          );
    this.#logger.warn('node stopped after a failure', {
      id: this.id,
      code: (error as { code?: unknown }).code,
    });
    this.#running = false;
    this.#failAll();
  }

  #failAll(): void {
    const refusal = this.#stoppedRefusal();
    for (const waiter of this.#proposalWaiters.values()) {
      waiter.resolve(refusal);
    }
    this.#proposalWaiters.clear();
    for (const waiter of this.#readWaiters.values()) {
      waiter.resolve(refusal);
    }
    this.#readWaiters.clear();
    for (const p of this.#queuedProposals) {
      p.resolve(refusal);
    }
    this.#queuedProposals = [];
  }
}
