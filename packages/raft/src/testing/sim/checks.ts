/**
 * The safety properties of Raft (paper Figure 3), checked after every simulation event, each
 * incrementally so that a check costs O(1) per event or per entry rather than a scan of logs:
 *
 * - Election safety: at most one leader per term; and, at its root, a new leader holds the
 *   votes of a majority cast in its term (read from each voter's term and vote, durable ones
 *   for a crashed voter).
 * - Log matching: an (index, term) names one entry, always with the same predecessor term, so
 *   two logs that agree on an entry agree on everything before it. Checked as entries are
 *   persisted.
 * - Leader completeness: a leader holds every entry committed in an earlier term. A node that
 *   has an entry committed while at term t proves the entry was committed by term t, so leaders
 *   of later terms must hold it: checked when a leader is elected and when commits advance.
 *   Looking ahead too: when a leader commits, no voter that lacks the entry may have a log as
 *   up to date as a majority's (it could be elected), counting crashed voters' durable logs.
 * - State-machine safety: every node applies the same entry at each index, in order, so every
 *   node's applied sequence is a prefix of the longest; state hashes agree at equal indexes.
 * - Read-index safety: a read index covers every entry committed before the read was sent, as
 *   a linearizable read needs (thesis §6.4); the harness stamps each read with the highest
 *   index committed anywhere when the client sent it.
 *
 * The liveness and linearizability verdicts are recorded here too, so a run has one first
 * violation.
 */
import type { Entry, LogIndex, NodeId, Raft, SnapshotMetadata, Term } from '../../index.ts';
import type { LogSummary } from './sim_disk.ts';
import type { SimWorld } from './sim_world.ts';

/** The properties a simulation checks. */
export const SimProperty = {
  electionSafety: 'electionSafety',
  logMatching: 'logMatching',
  leaderCompleteness: 'leaderCompleteness',
  stateMachineSafety: 'stateMachineSafety',
  readIndexSafety: 'readIndexSafety',
  coreInvariant: 'coreInvariant',
  liveness: 'liveness',
  linearizability: 'linearizability',
} as const;
/** Union of {@link SimProperty} values. */
export type SimProperty = (typeof SimProperty)[keyof typeof SimProperty];

/** The first property a run broke. */
export interface Violation {
  readonly property: SimProperty;
  readonly message: string;
  readonly timeUs: number;
}

/** What the checks last saw of one node incarnation. */
interface NodeObservation {
  readonly raft: Raft;
  isLeader: boolean;
  term: number;
  commit: number;
  lastApplied: number;
}

/** What a node would campaign or vote with (see SafetyChecks' constructor). */
export interface NodeState {
  readonly log: LogSummary;
  readonly term: number;
  readonly vote: number;
}

/** What log matching remembers of an (index, term). */
interface EntryRecord {
  readonly dataHash: number;
  readonly prevTerm: number | undefined;
  readonly nodeId: NodeId;
}

/** Index and term packed in one safe integer, for map keys. */
function entryKey(index: number, term: number): number {
  return term * 2 ** 26 + index;
}

function hashEntry(entry: Entry): number {
  let h = entry.type === 'normal' ? 0x811c9dc5 : 0x01234567;
  const data = entry.data;
  for (let i = 0; i < data.length; i++) {
    h = Math.imul(h ^ (data[i] ?? 0), 0x01000193);
  }
  return h >>> 0;
}

/** The incremental checks of one simulation run. */
export class SafetyChecks {
  /** The first violation, once there is one; the simulation stops there. */
  violation: Violation | undefined = undefined;
  /** Leaders seen, one per (term, node). */
  electionsSeen = 0;
  readonly #world: SimWorld;
  readonly #leaderOfTerm = new Map<number, NodeId>();
  readonly #entries = new Map<number, EntryRecord>();
  readonly #observed = new Map<NodeId, NodeObservation>();
  /** index → term of the committed entry there. */
  readonly #committedTerm: number[] = [];
  /** index → lowest term a node was in when it saw the entry committed (non-decreasing). */
  readonly #commitTerm: number[] = [];
  readonly #appliedTerm: number[] = [];
  readonly #appliedHash: number[] = [];

  readonly #stateOf: (id: NodeId) => NodeState | undefined;

  /**
   * stateOf gives the log, term and vote a node would campaign or vote with: the in-memory
   * state of a running node, the durable state of a crashed one, undefined for an unknown id.
   */
  constructor(world: SimWorld, options: { stateOf: (id: NodeId) => NodeState | undefined }) {
    this.#world = world;
    this.#stateOf = options.stateOf;
  }

  /** Records a violation unless an earlier one exists. */
  fail(property: SimProperty, message: string): void {
    if (this.violation === undefined) {
      this.violation = { property, message, timeUs: this.#world.nowUs };
      this.#world.trace.note(this.#world.nowUs, `VIOLATION ${property}: ${message}`);
    }
  }

  /** Starts watching a node incarnation that restored its state machine at appliedIndex. */
  registerNode(
    id: NodeId,
    options: { raft: Raft; appliedIndex: LogIndex; stateHash: number },
  ): void {
    const raft = options.raft;
    this.#observed.set(id, {
      raft,
      isLeader: false,
      term: raft.term,
      commit: raft.log.firstIndex() - 1,
      lastApplied: options.appliedIndex,
    });
    if (options.appliedIndex > 0) {
      this.#checkStateHash(id, options.appliedIndex, options.stateHash);
    }
    this.observeNode(id);
  }

  /** Stops watching a node that crashed or left. */
  forgetNode(id: NodeId): void {
    this.#observed.delete(id);
  }

  /** Checks what changed on a node since the last look: its role, term and commit. */
  observeNode(id: NodeId): void {
    const obs = this.#observed.get(id);
    if (obs === undefined) {
      return;
    }
    const raft = obs.raft;
    const isLeader = raft.role === 'leader';
    if (isLeader && (!obs.isLeader || obs.term !== raft.term)) {
      this.#onLeader(id, raft);
    }
    obs.isLeader = isLeader;
    obs.term = raft.term;
    const commit = raft.log.committed;
    if (commit > obs.commit) {
      this.#onCommit(id, obs, commit);
    }
    obs.commit = commit;
  }

  #onLeader(id: NodeId, raft: Raft): void {
    this.electionsSeen++;
    const term = raft.term;
    const other = this.#leaderOfTerm.get(term);
    if (other !== undefined && other !== id) {
      this.fail(
        SimProperty.electionSafety,
        `Nodes ${other} and ${id} both became leader of term ${term}`,
      );
      return;
    }
    this.#leaderOfTerm.set(term, id);
    this.#checkVotes(id, raft);
    const index = this.#lastCommittedBefore(term);
    if (index > 0) {
      this.#checkHolds(id, { raft, index, why: `elected leader of term ${term}` });
    }
  }

  /**
   * Election safety, at its root: a leader of term T holds the votes of a majority cast in T.
   * A voter that granted its vote in T has, durably, term T and vote for the leader, or a later
   * term (its vote for T is gone then, so it counts as granted). A leader without such a
   * majority counted a vote it did not get in this term, and a second leader can follow.
   */
  #checkVotes(id: NodeId, raft: Raft): void {
    const granted: NodeId[] = [];
    for (const voter of raft.voters) {
      const state = voter === id ? { term: raft.term, vote: id } : this.#stateOf(voter);
      if (
        state !== undefined &&
        (state.term > raft.term || (state.term === raft.term && state.vote === id))
      ) {
        granted.push(voter);
      }
    }
    if (granted.length < Math.floor(raft.voters.length / 2) + 1) {
      this.fail(
        SimProperty.electionSafety,
        `Node ${id} became leader of term ${raft.term}, but only voters ${granted.join(', ')} of ${raft.voters.join(', ')} voted for it in that term`,
      );
    }
  }

  /** The largest index committed in a term below `term` (binary search on #commitTerm). */
  #lastCommittedBefore(term: number): number {
    let lo = 0;
    let hi = this.#commitTerm.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      const t = this.#commitTerm[mid];
      if (t !== undefined && t < term) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo;
  }

  #checkHolds(id: NodeId, at: { raft: Raft; index: number; why: string }): void {
    const { raft, index } = at;
    const expected = this.#committedTerm[index];
    if (expected === undefined || index < raft.log.firstIndex() - 1) {
      return; // compacted into this node's snapshot, which holds only committed entries
    }
    const actual = raft.log.term(index as LogIndex);
    if (actual !== expected) {
      this.fail(
        SimProperty.leaderCompleteness,
        `Node ${id} ${at.why} lacks committed entry ${index} (term ${expected}); its log has ${actual === undefined ? 'nothing' : `term ${actual}`} there (last index ${raft.log.lastIndex()})`,
      );
    }
  }

  #onCommit(id: NodeId, obs: NodeObservation, commit: number): void {
    const raft = obs.raft;
    const lo = Math.max(obs.commit, raft.log.firstIndex() - 1) + 1;
    for (let i = lo; i <= commit; i++) {
      const term = raft.log.term(i as LogIndex);
      if (term === undefined) {
        continue;
      }
      const known = this.#committedTerm[i];
      if (known === undefined) {
        this.#committedTerm[i] = term;
      } else if (known !== term) {
        this.fail(
          SimProperty.stateMachineSafety,
          `Node ${id} committed index ${i} with term ${term}, but it was committed with term ${known} elsewhere`,
        );
        return;
      }
      const seen = this.#commitTerm[i];
      if (seen === undefined || raft.term < seen) {
        this.#commitTerm[i] = raft.term;
      }
    }
    for (const [leaderId, leader] of this.#observed) {
      if (leader.isLeader && leader.raft.role === 'leader' && leader.raft.term > raft.term) {
        this.#checkHolds(leaderId, {
          raft: leader.raft,
          index: commit,
          why: `leading term ${leader.raft.term}`,
        });
      }
    }
    if (raft.role === 'leader') {
      this.#checkElectable(raft, commit);
    }
  }

  /**
   * Leader completeness, looking ahead: once an entry is committed, no voter that lacks it may
   * have a log at least as up to date as a majority's, or a majority could elect it (Raft §5.4.3:
   * the voters that hold the entry outrank every log without it). Votes are over-approximated
   * (a voter's vote in the current term and leases are ignored), so a violation here is one
   * schedule of faults away from an elected leader without the entry. Checked on the leader's
   * commits, against its voters; a crashed voter counts with the durable log it restarts with.
   */
  #checkElectable(leader: Raft, index: number): void {
    const term = leader.log.term(index as LogIndex);
    const voters: { id: NodeId; log: LogSummary }[] = [];
    for (const id of leader.voters) {
      const log = this.#stateOf(id)?.log;
      if (log !== undefined) {
        voters.push({ id, log });
      }
    }
    const quorum = Math.floor(leader.voters.length / 2) + 1;
    for (const candidate of voters) {
      const log = candidate.log;
      if (index < log.firstIndex() - 1 || log.term(index) === term) {
        continue;
      }
      const lastTerm = log.lastTerm();
      const lastIndex = log.lastIndex();
      const supporters = voters.filter((v) => {
        const t = v.log.lastTerm();
        return lastTerm > t || (lastTerm === t && lastIndex >= v.log.lastIndex());
      });
      if (supporters.length >= quorum) {
        this.fail(
          SimProperty.leaderCompleteness,
          `Node ${leader.id} (leader of term ${leader.term}) committed entry ${index} (term ${term ?? '?'}), but node ${candidate.id} lacks it and its log (last ${lastIndex}/t${lastTerm}) is as up to date as those of nodes ${supporters.map((v) => v.id).join(', ')}, a majority that could elect it`,
        );
        return;
      }
    }
  }

  /** Log matching, as a node persists entries; prevTerm is its term before the first one. */
  observeEntries(id: NodeId, entries: readonly Entry[], prevTerm: Term | undefined): void {
    let prev: number | undefined = prevTerm;
    for (const entry of entries) {
      const key = entryKey(entry.index, entry.term);
      const dataHash = hashEntry(entry);
      const known = this.#entries.get(key);
      if (known === undefined) {
        this.#entries.set(key, { dataHash, prevTerm: prev, nodeId: id });
      } else if (known.dataHash !== dataHash) {
        this.fail(
          SimProperty.logMatching,
          `Node ${id} persisted an entry at index ${entry.index} term ${entry.term} that differs from node ${known.nodeId}'s`,
        );
        return;
      } else if (prev !== undefined && known.prevTerm !== undefined && prev !== known.prevTerm) {
        this.fail(
          SimProperty.logMatching,
          `Entry ${entry.index} of term ${entry.term} follows term ${prev} on node ${id} but term ${known.prevTerm} on node ${known.nodeId}`,
        );
        return;
      }
      prev = entry.term;
    }
  }

  /** State-machine safety, as a node applies one entry; stateHash is the state after it. */
  observeApply(id: NodeId, entry: Entry, stateHash: number): void {
    const obs = this.#observed.get(id);
    if (obs === undefined) {
      return;
    }
    if (entry.index !== obs.lastApplied + 1) {
      this.fail(
        SimProperty.stateMachineSafety,
        `Node ${id} applied index ${entry.index} right after ${obs.lastApplied}`,
      );
      return;
    }
    obs.lastApplied = entry.index;
    const term = this.#appliedTerm[entry.index];
    if (term === undefined) {
      this.#appliedTerm[entry.index] = entry.term;
    } else if (term !== entry.term) {
      this.fail(
        SimProperty.stateMachineSafety,
        `Node ${id} applied entry ${entry.index} of term ${entry.term}, but another node applied term ${term} there`,
      );
      return;
    }
    this.#checkStateHash(id, entry.index, stateHash);
  }

  /** State-machine safety, as a node installs a snapshot received from the leader. */
  observeSnapshotInstall(id: NodeId, metadata: SnapshotMetadata, stateHash: number): void {
    const obs = this.#observed.get(id);
    if (obs !== undefined) {
      obs.lastApplied = metadata.index;
    }
    const term = this.#appliedTerm[metadata.index];
    if (term !== undefined && term !== metadata.term) {
      this.fail(
        SimProperty.stateMachineSafety,
        `Node ${id} installed a snapshot at index ${metadata.index} term ${metadata.term}, but term ${term} was applied there`,
      );
      return;
    }
    this.#checkStateHash(id, metadata.index, stateHash);
  }

  #checkStateHash(id: NodeId, index: number, stateHash: number): void {
    const known = this.#appliedHash[index];
    if (known === undefined) {
      this.#appliedHash[index] = stateHash;
    } else if (known !== stateHash) {
      this.fail(
        SimProperty.stateMachineSafety,
        `Node ${id} has state hash ${stateHash.toString(16)} at applied index ${index}, another node had ${known.toString(16)}`,
      );
    }
  }

  /** The highest index any node has seen committed. */
  maxCommitted(): number {
    return this.#committedTerm.length - 1;
  }

  /** Read-index safety, as a node gets the read index of a read sent when committedAtSend was. */
  observeReadIndex(
    id: NodeId,
    read: { index: number; committedAtSend: number; description: string },
  ): void {
    if (read.index < read.committedAtSend) {
      this.fail(
        SimProperty.readIndexSafety,
        `Node ${id} got read index ${read.index} for ${read.description}, but index ${read.committedAtSend} was committed before the client sent it`,
      );
    }
  }

  /** The highest index any node applied. */
  maxApplied(): number {
    return this.#appliedTerm.length - 1;
  }
}
