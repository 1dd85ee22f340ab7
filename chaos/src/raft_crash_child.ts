/**
 * The child process of raft_crash.test.ts: a Raft cluster on real LevelDB logs that the parent
 * kills with SIGKILL and restarts on the same directories.
 *
 * Usage (forked with an IPC channel, through the tsx loader):
 *   raft_crash_child.ts <dataDir> <single|trio> <seed> <campaignerId>
 *
 * "single" runs one voter; "trio" runs three voters in this one process, joined by an
 * InMemoryNetwork, so a SIGKILL takes down the whole cluster at once, like a power loss. Every
 * node runs a SessionStateMachine over an application that appends each payload to a list and
 * answers with the payload's position and log index, so a payload applied twice shows in the
 * list and a wrong answer shows against it.
 *
 * The parent sends {@link ParentMessage}s; the child answers each with a {@link ChildAnswer}
 * carrying the same id. A proposal is answered only after RaftNode.propose resolves, that is
 * after its entry was persisted, committed and applied. Session entries are stamped with this
 * process's Date.now(): the child is the leader side.
 *
 * Failpoint (test-only): with COFFER_TEST_FAILPOINT=after-persist-before-apply in the
 * environment, an "arm" message with a count N makes the child SIGKILL itself right after a
 * persist of any of its logs returns, once N synced persists have returned since arming: at
 * the first persist whose durable commit index is past what that node applied. The driver has
 * not applied what that Ready committed, nor answered it: the window between durability and
 * apply. Without the variable, "arm" is refused, and no log is wrapped.
 */
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { asNodeId, type ConfState, type LogIndex, type SnapshotMetadata } from '@coffer/raft';
import {
  framedSnapshot,
  RaftNode,
  readFramedSnapshot,
  SessionStateMachine,
  encodeRegister,
  encodeSessionRequest,
  systemClock,
  type DurableLog,
  type PersistBatch,
  type SaveSnapshotOutcome,
  type SessionApplication,
  type SnapshotSource,
  type SnapshotStream,
  type SnapshotToSave,
} from '@coffer/raft/node';
import { InMemoryNetwork, SeededRandom } from '@coffer/raft/testing';
import { LevelLogStore } from '@coffer/storage';

/** The failpoint this script knows, named by COFFER_TEST_FAILPOINT. */
export const afterPersistBeforeApply = 'after-persist-before-apply';

/** What the parent asks. Payloads, results and ids travel as base64 or plain numbers. */
export type ParentMessage =
  | { readonly type: 'register'; readonly id: number }
  | {
      readonly type: 'propose';
      readonly id: number;
      readonly clientId: number;
      readonly sequence: number;
      readonly ackedBelow: number;
      readonly payload: string;
    }
  | { readonly type: 'dump'; readonly id: number }
  | { readonly type: 'transfer'; readonly id: number; readonly to: number }
  | { readonly type: 'arm'; readonly id: number; readonly syncedPersists: number }
  | { readonly type: 'stop'; readonly id: number };

/** Who answered a proposal: the leader's id and term. */
export interface Leadership {
  readonly leaderId: number;
  readonly term: number;
}

/** The child's answer to one {@link ParentMessage}, or its unsolicited ready notice (id 0). */
export type ChildAnswer =
  | {
      readonly type: 'ready';
      readonly id: 0;
      readonly leadership: Leadership;
      /** The highest durable commit index any node reopened with. */
      readonly commitAtOpen: number;
      /** The highest snapshot index any node reopened with (0: none yet). */
      readonly snapshotAtOpen: number;
    }
  | {
      readonly type: 'applied';
      readonly id: number;
      readonly index: number;
      /** The session layer's answer, base64. */
      readonly result: string;
      readonly leadership: Leadership;
    }
  | { readonly type: 'refused'; readonly id: number; readonly code: string; readonly why: string }
  | {
      readonly type: 'dumped';
      readonly id: number;
      /** Each node's application list, in node order. */
      readonly lists: readonly (readonly string[])[];
      /** Each node's live session count, in node order. */
      readonly sessionCounts: readonly number[];
      readonly appliedIndex: number;
    }
  | { readonly type: 'done'; readonly id: number; readonly leadership: Leadership };

/** Layouts the child runs. */
export type ClusterLayout = 'single' | 'trio';

const tickIntervalMs = 10;
const leaderWaitMs = 15_000;
const pollIntervalMs = 5;

/** The application: appends each payload to a list; answers "#position@index". */
class ListApplication implements SessionApplication {
  items: string[] = [];

  apply(payload: Uint8Array, context: { index: LogIndex }): Promise<Uint8Array> {
    this.items.push(new TextDecoder().decode(payload));
    const answer = `#${this.items.length - 1}@${context.index}`;
    return Promise.resolve(new TextEncoder().encode(answer));
  }

  snapshot(sessionTable: Uint8Array): Promise<SnapshotSource> {
    const items = new TextEncoder().encode(JSON.stringify(this.items));
    return Promise.resolve(framedSnapshot([sessionTable, items]));
  }

  async restore(_metadata: SnapshotMetadata, chunks: SnapshotStream): Promise<Uint8Array> {
    const [sessionTable = new Uint8Array(0), items = new Uint8Array(0)] = await readFramedSnapshot(
      chunks,
      2,
    );
    const text = new TextDecoder().decode(items);
    this.items = text === '' ? [] : (JSON.parse(text) as string[]);
    return sessionTable;
  }
}

/** The failpoint's shared state: armed with a count of synced persists still to go. */
interface Failpoint {
  enabled: boolean;
  remaining: number | undefined;
}

/**
 * A DurableLog that SIGKILLs the process right after a persist returns, once armed: once N
 * synced persists have returned, at the first persist after which the durable commit index is
 * past what the node applied. So the committed entries are durable, and the driver has neither
 * applied nor answered them.
 *
 * NB: that persist may be unsynced: the driver syncs only batches with entries or a new term
 * or vote, and a commit-only batch, the usual one to open the window under a closed-loop load
 * on three voters, is not synced. An unsynced LevelDB write survives a process kill.
 */
class FailpointLog implements DurableLog {
  readonly #inner: DurableLog;
  readonly #failpoint: Failpoint;
  readonly #appliedIndex: () => LogIndex;

  constructor(inner: DurableLog, failpoint: Failpoint, appliedIndex: () => LogIndex) {
    this.#inner = inner;
    this.#failpoint = failpoint;
    this.#appliedIndex = appliedIndex;
  }

  initialState(): ReturnType<DurableLog['initialState']> {
    return this.#inner.initialState();
  }
  entries(...args: Parameters<DurableLog['entries']>): ReturnType<DurableLog['entries']> {
    return this.#inner.entries(...args);
  }
  term(index: LogIndex): ReturnType<DurableLog['term']> {
    return this.#inner.term(index);
  }
  firstIndex(): LogIndex {
    return this.#inner.firstIndex();
  }
  lastIndex(): LogIndex {
    return this.#inner.lastIndex();
  }
  logSizeBytes(): number {
    return this.#inner.logSizeBytes();
  }
  snapshotMetadata(): ReturnType<DurableLog['snapshotMetadata']> {
    return this.#inner.snapshotMetadata();
  }
  snapshotChunk(
    ...args: Parameters<DurableLog['snapshotChunk']>
  ): ReturnType<DurableLog['snapshotChunk']> {
    return this.#inner.snapshotChunk(...args);
  }
  stageSnapshotChunk(...args: Parameters<DurableLog['stageSnapshotChunk']>): Promise<void> {
    return this.#inner.stageSnapshotChunk(...args);
  }
  saveSnapshot(
    snapshot: SnapshotToSave,
    options: { keepEntries: number },
  ): Promise<SaveSnapshotOutcome> {
    return this.#inner.saveSnapshot(snapshot, options);
  }
  snapshotData(): SnapshotStream {
    return this.#inner.snapshotData();
  }
  close(): Promise<void> {
    return this.#inner.close();
  }

  async persist(batch: PersistBatch, options: { sync: boolean }): Promise<void> {
    await this.#inner.persist(batch, options);
    const failpoint = this.#failpoint;
    if (failpoint.remaining === undefined) {
      return;
    }
    if (options.sync && failpoint.remaining > 0) {
      failpoint.remaining--;
    }
    const commit = this.#inner.initialState().hardState.commit;
    const applied = this.#appliedIndex();
    if (failpoint.remaining === 0 && commit > applied) {
      // The parent reads this line from stderr as evidence of the window it hit.
      const line = `failpoint ${afterPersistBeforeApply}: sync ${options.sync} commit ${commit} applied ${applied}`;
      writeSync(2, `${line}\n`);
      process.kill(process.pid, 'SIGKILL');
      // NB: kill(2) delivers a signal to its own caller before returning; this never resolves.
      await new Promise<never>(() => undefined);
    }
  }
}

/** One running node with its application and session machine. */
interface ClusterNode {
  readonly node: RaftNode;
  readonly app: ListApplication;
  readonly sessions: SessionStateMachine;
  /** The durable commit index and snapshot index the log reopened with. */
  readonly opened: { readonly commit: number; readonly snapshot: number };
}

interface StartOptions {
  readonly dataDir: string;
  readonly layout: ClusterLayout;
  readonly seed: number;
  readonly failpoint: Failpoint;
}

async function startCluster(options: StartOptions): Promise<ClusterNode[]> {
  const ids = options.layout === 'single' ? [1] : [1, 2, 3];
  const confState: ConfState = { voters: ids.map(asNodeId), learners: [] };
  const network = new InMemoryNetwork();
  const random = new SeededRandom(options.seed);
  const cluster: ClusterNode[] = [];
  for (const id of ids) {
    const store = await LevelLogStore.open(join(options.dataDir, `node-${id}`), { confState });
    const opened = {
      commit: store.initialState().hardState.commit,
      snapshot: store.snapshotMetadata().index,
    };
    const app = new ListApplication();
    const sessions = new SessionStateMachine(app, {
      sessionTtlMs: 10 * 60_000,
      responsesPerClientMax: 256,
    });
    const log = options.failpoint.enabled
      ? new FailpointLog(store, options.failpoint, () => sessions.appliedIndex())
      : store;
    const nodeRandom = random.fork();
    const node = await RaftNode.start({
      id,
      log,
      stateMachine: sessions,
      transport: network.connect(asNodeId(id)),
      clock: systemClock,
      randomInt: (n) => nodeRandom.int(n),
      tickIntervalMs,
      requestTimeoutMs: 3000,
      // A small log forces snapshots (saved, restored at restart) within a few rounds.
      snapshotKeepEntries: 8,
      raft: { electionTimeoutTicks: 10, heartbeatIntervalTicks: 1, logEntriesMax: 40 },
    });
    cluster.push({ node, app, sessions, opened });
  }
  return cluster;
}

/** Polls a condition until it gives a value or the deadline passes. */
async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) {
      return value;
    }
    if (performance.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
}

const reported = new Set<RaftNode>();

/** Writes why a node stopped to stderr, once per node, for the parent's failure messages. */
function reportFailures(cluster: readonly ClusterNode[]): void {
  for (const { node } of cluster) {
    const failure = node.failure();
    if (failure !== undefined && !reported.has(node)) {
      reported.add(node);
      writeSync(2, `node ${node.id} stopped: ${inspect(failure, { depth: 6 })}\n`);
    }
  }
}

function findLeader(cluster: readonly ClusterNode[]): ClusterNode | undefined {
  return cluster.find((c) => c.node.raw.status().softState.role === 'leader');
}

function leadershipOf(member: ClusterNode): Leadership {
  const status = member.node.raw.status();
  return { leaderId: status.id, term: status.hardState.term };
}

function waitForLeader(cluster: readonly ClusterNode[]): Promise<ClusterNode> {
  return waitFor(() => findLeader(cluster), 'a leader', leaderWaitMs);
}

/** Proposes one command on the leader, stamped with this process's wall clock. */
async function proposeOnLeader(
  cluster: readonly ClusterNode[],
  id: number,
  encode: (stampMs: number) => Uint8Array,
): Promise<ChildAnswer> {
  const leader = await waitForLeader(cluster);
  const leadership = leadershipOf(leader);
  const outcome = await leader.node.propose(encode(Date.now()));
  if (!outcome.ok) {
    reportFailures(cluster);
    return { type: 'refused', id, code: outcome.code, why: outcome.message };
  }
  const result = Buffer.from(outcome.result).toString('base64');
  return { type: 'applied', id, index: outcome.index, result, leadership };
}

/** Reads every node's list once all of them applied what the leader committed. */
async function dump(cluster: readonly ClusterNode[], id: number): Promise<ChildAnswer> {
  const leader = await waitForLeader(cluster);
  const barrier = await leader.node.readBarrier();
  if (!barrier.ok) {
    reportFailures(cluster);
    return { type: 'refused', id, code: barrier.code, why: barrier.message };
  }
  const target = leader.node.raw.status().applied;
  await waitFor(
    () => (cluster.every((c) => c.node.raw.status().applied >= target) ? true : undefined),
    `every node to apply index ${target}`,
    leaderWaitMs,
  );
  return {
    type: 'dumped',
    id,
    lists: cluster.map((c) => [...c.app.items]),
    sessionCounts: cluster.map((c) => c.sessions.sessionCount()),
    appliedIndex: target,
  };
}

/** Moves leadership to node `to` and waits until it leads. */
async function transfer(
  cluster: readonly ClusterNode[],
  id: number,
  to: number,
): Promise<ChildAnswer> {
  const target = cluster.find((c) => c.node.id === to);
  if (target === undefined) {
    return { type: 'refused', id, code: 'NO_SUCH_NODE', why: `No node ${to} in this cluster` };
  }
  const isLeader = (): true | undefined =>
    target.node.raw.status().softState.role === 'leader' ? true : undefined;
  const leader = await waitForLeader(cluster);
  if (leader !== target) {
    const result = leader.node.transferLeadership(to);
    if (!result.ok) {
      return { type: 'refused', id, code: result.code, why: result.message };
    }
  }
  await waitFor(isLeader, `node ${to} to lead`, leaderWaitMs);
  return { type: 'done', id, leadership: leadershipOf(target) };
}

async function stop(cluster: readonly ClusterNode[], id: number): Promise<ChildAnswer> {
  const leadership = leadershipOf(await waitForLeader(cluster));
  await Promise.all(cluster.map((c) => c.node.stop()));
  return { type: 'done', id, leadership };
}

function arm(failpoint: Failpoint, id: number, syncedPersists: number): ChildAnswer {
  if (!failpoint.enabled) {
    return {
      type: 'refused',
      id,
      code: 'FAILPOINT_DISABLED',
      why: `Set COFFER_TEST_FAILPOINT=${afterPersistBeforeApply} to arm the failpoint`,
    };
  }
  failpoint.remaining = syncedPersists;
  return { type: 'done', id, leadership: { leaderId: 0, term: 0 } };
}

function handle(
  cluster: readonly ClusterNode[],
  failpoint: Failpoint,
  message: ParentMessage,
): Promise<ChildAnswer> {
  const id = message.id;
  switch (message.type) {
    case 'register':
      return proposeOnLeader(cluster, id, (stampMs) => encodeRegister(stampMs));
    case 'propose': {
      const request = {
        clientId: message.clientId,
        sequence: message.sequence,
        ackedBelow: message.ackedBelow,
        payload: new TextEncoder().encode(message.payload),
      };
      return proposeOnLeader(cluster, id, (stampMs) => encodeSessionRequest(request, stampMs));
    }
    case 'dump':
      return dump(cluster, id);
    case 'transfer':
      return transfer(cluster, id, message.to);
    case 'arm':
      return Promise.resolve(arm(failpoint, id, message.syncedPersists));
    case 'stop':
      return stop(cluster, id);
  }
}

function send(answer: ChildAnswer): void {
  // NB: the parent may have gone (or killed us) meanwhile; nothing is left to tell it then.
  process.send?.(answer, undefined, {}, () => undefined);
}

function parseArguments(): StartOptions {
  const [dataDir, layout, seed, campaigner] = process.argv.slice(2);
  const failpointName = process.env['COFFER_TEST_FAILPOINT'];
  if (failpointName !== undefined && failpointName !== afterPersistBeforeApply) {
    throw new Error(
      `Unknown failpoint "${failpointName}": the only one is "${afterPersistBeforeApply}"`,
    );
  }
  if (
    dataDir === undefined ||
    (layout !== 'single' && layout !== 'trio') ||
    !Number.isSafeInteger(Number(seed)) ||
    !Number.isSafeInteger(Number(campaigner))
  ) {
    throw new Error('Usage: raft_crash_child.ts <dataDir> <single|trio> <seed> <campaignerId>');
  }
  return {
    dataDir,
    layout,
    seed: Number(seed),
    failpoint: { enabled: failpointName !== undefined, remaining: undefined },
  };
}

async function main(): Promise<void> {
  if (process.send === undefined) {
    throw new Error('Run raft_crash_child.ts with child_process.fork: it needs an IPC channel');
  }
  const options = parseArguments();
  const cluster = await startCluster(options);
  const campaigner = cluster.find((c) => c.node.id === Number(process.argv[5]));
  campaigner?.node.campaign();
  process.on('message', (message) => {
    void handle(cluster, options.failpoint, message as ParentMessage)
      .catch((error: unknown): ChildAnswer => {
        const why = error instanceof Error ? error.message : String(error);
        return { type: 'refused', id: (message as ParentMessage).id, code: 'CHILD_ERROR', why };
      })
      .then(send);
  });
  // The parent went away (or finished): nothing may outlive it.
  process.on('disconnect', () => {
    process.exit(0);
  });
  const leader = await waitForLeader(cluster);
  send({
    type: 'ready',
    id: 0,
    leadership: leadershipOf(leader),
    commitAtOpen: Math.max(...cluster.map((c) => c.opened.commit)),
    snapshotAtOpen: Math.max(...cluster.map((c) => c.opened.snapshot)),
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
