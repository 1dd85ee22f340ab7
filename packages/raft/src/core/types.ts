/**
 * Types shared by every part of the pure Raft core: identifiers, log entries, persistent state,
 * membership and the messages that peers exchange.
 *
 * Invariant: nothing here performs I/O; every value is plain data that the driver can encode.
 */

/** A Raft term. Branded so that a term is never confused with a log index. */
export type Term = number & { readonly __brand: 'Term' };
/** A position in the replicated log; 0 means "before the first entry". */
export type LogIndex = number & { readonly __brand: 'LogIndex' };
/** A cluster member. 0 is reserved for "no node". */
export type NodeId = number & { readonly __brand: 'NodeId' };

/** Brands a number as a term. */
export function asTerm(n: number): Term {
  return n as Term;
}
/** Brands a number as a log index. */
export function asIndex(n: number): LogIndex {
  return n as LogIndex;
}
/** Brands a number as a node id. */
export function asNodeId(n: number): NodeId {
  return n as NodeId;
}

/** The absent node: no leader known, no vote cast. */
export const noNode: NodeId = asNodeId(0);

/** Kinds of log entry. A no-op is what a new leader appends to commit an entry of its term. */
export const EntryType = {
  normal: 'normal',
  confChange: 'confChange',
} as const;
/** Union of {@link EntryType} values. */
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** One entry of the replicated log. An empty `data` on a normal entry is a leader no-op. */
export interface Entry {
  readonly term: Term;
  readonly index: LogIndex;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be durable before a node sends any message: its term, its vote, its commit. */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: LogIndex;
}

/** Cluster membership. Voters elect and commit; learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * Kinds of single-server membership change. `addVoter` on a learner promotes it,
 * `addLearner` on a voter demotes it.
 */
export const ConfChangeType = {
  addVoter: 'addVoter',
  addLearner: 'addLearner',
  removeNode: 'removeNode',
} as const;
/** Union of {@link ConfChangeType} values. */
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/** One single-server membership change, carried in a confChange entry. */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

/** Identifies a snapshot: the last entry it covers and the membership at that entry. */
export interface SnapshotMetadata {
  readonly index: LogIndex;
  readonly term: Term;
  readonly confState: ConfState;
}

/**
 * One piece of a snapshot on its way to a follower (Raft Figure 13: offset, data, done).
 * In a response, `offsetBytes` is the next offset the follower expects and `data` is empty.
 */
export interface SnapshotChunk {
  readonly metadata: SnapshotMetadata;
  readonly offsetBytes: number;
  readonly data: Uint8Array;
  readonly done: boolean;
}

/** Types of the messages that travel between peers. Local events are RawNode methods. */
export const MessageType = {
  append: 'append',
  appendResponse: 'appendResponse',
  vote: 'vote',
  voteResponse: 'voteResponse',
  preVote: 'preVote',
  preVoteResponse: 'preVoteResponse',
  heartbeat: 'heartbeat',
  heartbeatResponse: 'heartbeatResponse',
  snapshot: 'snapshot',
  snapshotResponse: 'snapshotResponse',
  readIndex: 'readIndex',
  readIndexResponse: 'readIndexResponse',
  timeoutNow: 'timeoutNow',
} as const;
/** Union of {@link MessageType} values. */
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * A message between peers. Fields that a type does not use hold their zero value, so that
 * every message has one shape and one wire encoding.
 *
 * - append: `index`/`logTerm` name the entry before `entries`; `commit` is the leader's commit.
 * - appendResponse: `index` is the last index matched, or the rejected index when `reject`;
 *   then `rejectHint` and `logTerm` give the follower's last index and its term there.
 * - vote/preVote: `index`/`logTerm` describe the candidate's last entry; `leaderTransfer`
 *   marks a campaign started by TimeoutNow, which bypasses the leader lease.
 * - heartbeat/heartbeatResponse: `commit`, and `context` echoes a ReadIndex round; `index`
 *   carries the leader's tick count at sending, echoed back, so a read lease is timed from
 *   when the confirmed heartbeat left the leader.
 * - readIndex/readIndexResponse: `context` names the request; `index` is the read index.
 * - snapshot/snapshotResponse: `snapshot` carries a chunk or the follower's next offset.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
  readonly logTerm: Term;
  readonly index: LogIndex;
  readonly entries: readonly Entry[];
  readonly commit: LogIndex;
  readonly reject: boolean;
  readonly rejectHint: LogIndex;
  readonly leaderTransfer: boolean;
  readonly context: Uint8Array;
  readonly snapshot: SnapshotChunk | undefined;
}

/** A linearizable read point: once applied >= index, the read named by context may run. */
export interface ReadState {
  readonly index: LogIndex;
  readonly context: Uint8Array;
}

/** Roles of a node. A pre-candidate runs PreVote before it disturbs anyone's term. */
export const Role = {
  follower: 'follower',
  preCandidate: 'preCandidate',
  candidate: 'candidate',
  leader: 'leader',
} as const;
/** Union of {@link Role} values. */
export type Role = (typeof Role)[keyof typeof Role];

/** Volatile state worth reporting: who leads and what this node is. */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

const emptyBytes = new Uint8Array(0);

/** Returns a message of the given type with every unused field at its zero value. */
export function makeMessage(
  fields: Pick<Message, 'type' | 'from' | 'to' | 'term'> & Partial<Message>,
): Message {
  return {
    logTerm: asTerm(0),
    index: asIndex(0),
    entries: [],
    commit: asIndex(0),
    reject: false,
    rejectHint: asIndex(0),
    leaderTransfer: false,
    context: emptyBytes,
    snapshot: undefined,
    ...fields,
  };
}

/** Size of an entry as counted against byte limits: its payload. */
export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength;
}

/** Total payload size of a list of entries. */
export function entriesSizeBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const e of entries) {
    total += entrySizeBytes(e);
  }
  return total;
}
