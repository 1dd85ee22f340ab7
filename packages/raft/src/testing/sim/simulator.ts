/**
 * The deterministic simulator: one seed → one run of a cluster of real Raft cores under a
 * randomized fault mix, checked at every event and, at the end, for linearizability.
 *
 * A run has two phases:
 * 1. Safety: clients issue their operations while a nemesis (nemesis.ts) partitions, clogs,
 *    crashes (losing or tearing unsynced writes), pauses nodes, changes membership (add
 *    learner, promote, remove, re-add), transfers leadership and forces snapshots. Every event
 *    is followed by the checks of checks.ts. The faults stop after a budget of simulated time;
 *    the clients must then finish within a bound.
 * 2. Liveness: the nemesis stops, the network heals, crashed members restart; every pending
 *    client operation must complete and every member converge within a bounded simulated time.
 * Then the history goes through the linearizability checker (Wing & Gong with Lowe's cache,
 * per key); a search that runs out of budget is a failure.
 *
 * Each seed draws its own parameters ("swarm testing", swarm.ts): cluster size, Raft timings
 * and limits, PreVote, CheckQuorum and lease reads, disk and network speed and fault rates,
 * which faults the nemesis uses and how often. Every choice derives from the seed, so a seed
 * replays byte for byte.
 *
 * Files: sim_world.ts (event queue, clocks, trace), sim_network.ts, sim_disk.ts, sim_node.ts
 * (the driver of one RawNode), kv_state_machine.ts, workload.ts (clients and history),
 * nemesis.ts, swarm.ts, checks.ts, broken_variants.ts (test only), sim_main.ts (the CLI).
 */
import {
  asIndex,
  asNodeId,
  asTerm,
  ConfChangeType,
  encodeConfChange,
  EntryType,
  type ConfChange,
  type Entry,
  type NodeId,
} from '../../index.ts';
import { kvModel } from '../kv_model.ts';
import { checkOperations, describeResult } from '../linearizability.ts';
import { SeededRandom } from '../seeded_random.ts';
import { variantSettings, type BrokenVariant } from './broken_variants.ts';
import { SafetyChecks, SimProperty, type Violation } from './checks.ts';
import type { KvRequest, KvResponse } from './kv_state_machine.ts';
import { SimDisk } from './sim_disk.ts';
import { SimNetwork } from './sim_network.ts';
import { SimNode, type NodeRuntime, type NodeSettings } from './sim_node.ts';
import { SimWorld, TraceLog } from './sim_world.ts';
import { describeSwarm, drawSwarm, type SwarmParams } from './swarm.ts';
import { Nemesis, type FaultCounters } from './nemesis.ts';
import { Workload } from './workload.ts';

/** Options of one run. */
export interface RunOptions {
  /** Client operations the clients complete before the run winds down (default 2000). */
  readonly opsTarget?: number;
  /** Run a deliberately broken variant instead of the correct core (tests only). */
  readonly variant?: BrokenVariant;
  /** Trace records kept for the failure report (default 60). */
  readonly traceTailSize?: number;
  /** Keep every trace record, formatted into the result (the determinism test). */
  readonly keepFullTrace?: boolean;
  /** Search steps per key for the linearizability checker (default 2,000,000). */
  readonly checkerStepsMax?: number;
  /** Wall-clock limit per key for the checker; needs `now`. Exceeding it fails the run. */
  readonly checkerTimeLimitMs?: number;
  /** Wall clock in milliseconds, used only for checkerTimeLimitMs. */
  readonly now?: () => number;
  /** Simulated time the liveness phase may take (default 60 s). */
  readonly livenessBoundUs?: number;
  /** Simulated time after which the nemesis stops even if clients are not done (default 60 s). */
  readonly faultsBudgetUs?: number;
  /**
   * Founding voters, instead of the seed's draw (3 or 5): the small-cluster sweep runs 1 and 2,
   * where a leader's own persisted copy decides commits. Everything else still comes from the
   * seed.
   */
  readonly voterCount?: number;
}

/** Counters of one run. */
export interface RunStats extends FaultCounters {
  /** Client operations the run was asked to complete. */
  opsTarget: number;
  opsIssued: number;
  opsCompleted: number;
  opsAbandoned: number;
  retries: number;
  elections: number;
  events: number;
  simTimeUs: number;
  /** Digest of the whole trace; equal for equal runs. */
  traceDigest: number;
  /** The seed's drawn parameters, in one line. */
  swarm: string;
}

/** The outcome of one seed. */
export interface RunResult {
  readonly ok: boolean;
  readonly seed: number;
  readonly firstViolation: Violation | undefined;
  /** The last trace records before the end of the run, oldest first. */
  readonly trace: readonly string[];
  /** Every trace record, when keepFullTrace was set. */
  readonly fullTrace: readonly string[] | undefined;
  readonly stats: RunStats;
}

/** The founding voters' log: one addVoter entry per voter, committed, in term 1. */
function bootstrapEntries(voterCount: number): Entry[] {
  const entries: Entry[] = [];
  for (let i = 1; i <= voterCount; i++) {
    const change: ConfChange = { type: ConfChangeType.addVoter, nodeId: asNodeId(i) };
    entries.push({
      term: asTerm(1),
      index: asIndex(i),
      type: EntryType.confChange,
      data: encodeConfChange(change),
    });
  }
  return entries;
}

/** One simulation run: the cluster, the clients, the nemesis and the checks. */
class Simulation implements NodeRuntime {
  readonly world: SimWorld;
  readonly network: SimNetwork;
  readonly checks: SafetyChecks;
  readonly settings: NodeSettings;
  readonly random: SeededRandom;
  readonly swarm: SwarmParams;
  readonly workload: Workload;
  readonly stats: RunStats;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly nemesis: Nemesis;
  /** Per node id, how many times an add was proposed; a pending shutdown skips a re-added node. */
  readonly #spawnGeneration = new Map<NodeId, number>();

  constructor(seed: number, options: RunOptions) {
    const root = new SeededRandom(seed);
    const swarm = drawSwarm(root.fork(), options.opsTarget ?? 2000);
    this.swarm =
      options.voterCount === undefined ? swarm : { ...swarm, voterCount: options.voterCount };
    this.random = root.fork();
    const trace = new TraceLog({
      tailSize: options.traceTailSize ?? 60,
      keepAll: options.keepFullTrace ?? false,
    });
    this.world = new SimWorld({ random: root.fork(), trace });
    this.network = new SimNetwork({ world: this.world, params: this.swarm.network });
    this.checks = new SafetyChecks(this.world, {
      stateOf: (id) => {
        const node = this.nodes.get(id);
        if (node === undefined) {
          return undefined;
        }
        if (node.up) {
          return { log: node.raft.log, term: node.raft.term, vote: node.raft.vote };
        }
        const hardState = node.disk.durableHardState();
        return { log: node.disk.durableLog(), term: hardState.term, vote: hardState.vote };
      },
    });
    this.settings = { ...this.swarm.node, ...variantSettings(options.variant) };
    this.stats = {
      opsTarget: this.swarm.workload.opsTarget,
      opsIssued: 0,
      opsCompleted: 0,
      opsAbandoned: 0,
      retries: 0,
      elections: 0,
      crashes: 0,
      pauses: 0,
      partitions: 0,
      confChanges: 0,
      transfers: 0,
      snapshots: 0,
      events: 0,
      simTimeUs: 0,
      traceDigest: 0,
      swarm: describeSwarm(this.swarm),
    };
    trace.note(
      0,
      `seed ${seed}${options.variant === undefined ? '' : ` variant ${options.variant}`}: ${this.stats.swarm}`,
    );
    this.workload = new Workload({
      runtime: {
        world: this.world,
        network: this.network,
        random: root.fork(),
        nodeIds: () => this.#voterIds(),
        deliverRequest: (to, request) => {
          this.#deliverRequest(to, request);
        },
        committedIndex: () => this.checks.maxCommitted(),
      },
      params: this.swarm.workload,
    });
    this.nemesis = new Nemesis(this);
  }

  node(id: NodeId): SimNode | undefined {
    return this.nodes.get(id);
  }

  sendToClient(from: NodeId, response: KvResponse): void {
    this.network.transmit(from, response.request.clientId, () => {
      this.workload.onResponse(response);
    });
  }

  #deliverRequest(to: NodeId, request: KvRequest): void {
    this.nodes.get(to)?.request(request);
  }

  /** A new leader: in some seeds the nemesis makes it flap. */
  onLeaderElected(nodeId: NodeId, term: number): void {
    this.nemesis.maybeFlap(nodeId, term);
  }

  /** A new leader's first commit: the other moment the nemesis may make it flap. */
  onLeaderFirstCommit(nodeId: NodeId, term: number): void {
    this.nemesis.maybeFlap(nodeId, term);
  }

  /**
   * The operator shuts down a node some time after the leader applied its removal, unless it
   * was added back meanwhile. Replays of old removals after a restart are ignored.
   */
  onConfChangeApplied(nodeId: NodeId, change: ConfChange): void {
    if (change.type !== ConfChangeType.removeNode || this.nodes.get(nodeId)?.isLeader() !== true) {
      return;
    }
    const id = change.nodeId;
    const generation = this.#spawnGeneration.get(id) ?? 0;
    this.world.after(this.random.int(300_000), () => {
      const node = this.nodes.get(id);
      const respawned = (this.#spawnGeneration.get(id) ?? 0) !== generation;
      const leader = this.leader();
      if (node?.up === true && !respawned && leader !== undefined && !leader.hasMember(id)) {
        node.crash({ decommission: true });
      }
    });
  }

  #createNode(id: NodeId, disk: SimDisk): SimNode {
    const drift = (this.random.float() * 2 - 1) * (this.swarm.driftPercent / 200);
    const periodUs = Math.round(this.swarm.tickIntervalUs / (1 + drift));
    const node = new SimNode({ id, disk, runtime: this, periodUs });
    this.nodes.set(id, node);
    return node;
  }

  /** Creates the founding voters and starts them and the clients. */
  boot(): void {
    const count = this.swarm.voterCount;
    for (let i = 1; i <= count; i++) {
      const disk = new SimDisk({
        confState: { voters: [], learners: [] },
        entries: bootstrapEntries(count),
        commit: asIndex(count),
      });
      this.#createNode(asNodeId(i), disk).start();
    }
    this.workload.start();
    this.nemesis.start();
  }

  /** The up node that has applied the most: the freshest view of the membership. */
  #freshest(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const node of this.nodes.values()) {
      if (node.up && (best === undefined || node.raft.log.applied > best.raft.log.applied)) {
        best = node;
      }
    }
    return best;
  }

  #voterIds(): NodeId[] {
    const voters = this.#freshest()?.raft.voters;
    return voters === undefined || voters.length === 0 ? [...this.nodes.keys()] : [...voters];
  }

  /** The up node that leads in the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const node of this.nodes.values()) {
      if (node.isLeader() && (best === undefined || node.raft.term > best.raft.term)) {
        best = node;
      }
    }
    return best;
  }

  /** Starts the process of a node about to be added: new with an empty disk, or re-added. */
  spawn(id: NodeId): void {
    this.#spawnGeneration.set(id, (this.#spawnGeneration.get(id) ?? 0) + 1);
    const existing = this.nodes.get(id);
    if (existing === undefined) {
      const disk = new SimDisk({
        confState: { voters: [], learners: [] },
        entries: [],
        commit: asIndex(0),
      });
      this.#createNode(id, disk).start();
    } else if (!existing.up) {
      existing.start();
    }
  }

  /**
   * Phase 1: the workload under faults until the clients have completed their operations. The
   * nemesis stops after faultsBudgetUs of simulated time, so that a seed whose faults starve
   * the clients still ends; the clients must then finish within progressBoundUs.
   */
  runSafetyPhase(options: { faultsBudgetUs: number; progressBoundUs: number }): void {
    let nextReviveUs = 0;
    const done = (): boolean => {
      if (!this.nemesis.on && this.world.nowUs >= nextReviveUs) {
        nextReviveUs = this.world.nowUs + 10_000;
        this.reviveMembers();
      }
      return this.checks.violation !== undefined || this.workload.doneIssuing();
    };
    if (this.world.runUntil(done, options.faultsBudgetUs) !== 'deadline') {
      return;
    }
    this.#stopFaults('faults budget spent');
    if (this.world.runUntil(done, this.world.nowUs + options.progressBoundUs) === 'deadline') {
      this.checks.fail(
        SimProperty.liveness,
        `Clients completed only ${this.workload.completed} of ${this.swarm.workload.opsTarget} operations by ${options.progressBoundUs}us after the faults stopped: ${this.#describeProgress()}`,
      );
    }
  }

  #stopFaults(why: string): void {
    this.nemesis.stop();
    this.network.healAll();
    this.world.trace.note(this.world.nowUs, `${why}: network healed, faults stopped`);
    for (const node of this.nodes.values()) {
      if (!node.up && !node.decommissioned) {
        node.start();
      }
    }
  }

  /** Phase 2: faults stop; pending operations must complete and members converge in time. */
  runLivenessPhase(boundUs: number): void {
    if (this.checks.violation !== undefined) {
      return;
    }
    this.workload.stopIssuing();
    this.#stopFaults('liveness phase');
    const deadline = this.world.nowUs + boundUs;
    let nextCheckUs = 0;
    const outcome = this.world.runUntil(() => {
      if (this.checks.violation !== undefined) {
        return true;
      }
      if (this.world.nowUs < nextCheckUs) {
        return false;
      }
      nextCheckUs = this.world.nowUs + 1000;
      this.reviveMembers();
      return this.#converged();
    }, deadline);
    if (outcome !== 'done') {
      this.checks.fail(
        SimProperty.liveness,
        `No convergence within ${boundUs}us of healing: ${this.#describeProgress()}`,
      );
    }
  }

  /**
   * Starts members of the leader's membership that were shut down as removed (as an operator
   * would); crashed nodes restart on their own schedule. After the faults stop, every member.
   */
  reviveMembers(): void {
    const leader = this.leader();
    for (const id of leader === undefined ? [] : [...leader.raft.voters, ...leader.raft.learners]) {
      const node = this.nodes.get(id);
      if (node !== undefined && !node.up && (node.decommissioned || !this.nemesis.on)) {
        node.start();
      }
    }
  }

  /** Every operation answered; every member up, caught up with the leader, equal state. */
  #converged(): boolean {
    if (this.workload.pendingCount() > 0) {
      return false;
    }
    const leader = this.leader();
    if (leader === undefined) {
      return false;
    }
    const last = leader.raft.log.lastIndex();
    const members = [...leader.raft.voters, ...leader.raft.learners];
    for (const id of members) {
      const node = this.nodes.get(id);
      if (
        node?.up !== true ||
        node.raft.log.applied !== last ||
        node.stateHash() !== leader.stateHash()
      ) {
        return false;
      }
    }
    return leader.raft.log.committed === last;
  }

  #describeProgress(): string {
    const parts = [`${this.workload.pendingCount()} operations pending`];
    const leader = this.leader();
    parts.push(leader === undefined ? 'no leader' : `leader ${leader.id} term ${leader.raft.term}`);
    for (const [id, pr] of leader?.raft.progress ?? []) {
      parts.push(
        `progress of ${id}: ${pr.state} match ${pr.match} next ${pr.next} inflight ${pr.inflights.count()} paused ${pr.isPaused()}`,
      );
    }
    for (const node of this.nodes.values()) {
      if (!node.up) {
        parts.push(`n${node.id} ${node.decommissioned ? 'decommissioned' : 'down'}`);
        continue;
      }
      const r = node.raft;
      parts.push(
        `n${node.id} ${r.role} t${r.term} applied ${r.log.applied} commit ${r.log.committed} last ${r.log.lastIndex()} voters [${r.voters.join(',')}] learners [${r.learners.join(',')}]`,
      );
    }
    return parts.join('; ');
  }

  /** Checks the recorded history for linearizability; unknown counts as a failure. */
  checkHistory(options: RunOptions): void {
    if (this.checks.violation !== undefined) {
      return;
    }
    const timeLimit = options.checkerTimeLimitMs;
    const result = checkOperations(kvModel, this.workload.history(), {
      stepsMaxPerPartition: options.checkerStepsMax ?? 2_000_000,
      ...(timeLimit === undefined ? {} : { timeLimitMsPerPartition: timeLimit }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    if (result.verdict !== 'ok') {
      this.checks.fail(SimProperty.linearizability, describeResult(kvModel, result));
    }
  }

  finishStats(): RunStats {
    const s = this.stats;
    s.opsIssued = this.workload.issued;
    s.opsCompleted = this.workload.completed;
    s.opsAbandoned = this.workload.abandoned;
    s.retries = this.workload.retries;
    s.elections = this.checks.electionsSeen;
    s.events = this.world.eventsProcessed;
    s.simTimeUs = this.world.nowUs;
    s.traceDigest = this.world.trace.digest;
    return s;
  }
}

/** Runs one seed and reports the first violated property, if any. */
export function runSeed(seed: number, options: RunOptions = {}): RunResult {
  const sim = new Simulation(seed, options);
  try {
    sim.boot();
    const livenessBoundUs = options.livenessBoundUs ?? 60_000_000;
    sim.runSafetyPhase({
      faultsBudgetUs: options.faultsBudgetUs ?? 60_000_000,
      progressBoundUs: livenessBoundUs,
    });
    sim.runLivenessPhase(livenessBoundUs);
    sim.checkHistory(options);
  } catch (error) {
    const message =
      error instanceof Error
        ? `${error.name}: ${error.message}\n${error.stack ?? ''}`
        : String(error);
    sim.checks.fail(SimProperty.coreInvariant, `Simulation threw: ${message}`);
  }
  const violation = sim.checks.violation;
  return {
    ok: violation === undefined,
    seed,
    firstViolation: violation,
    trace: sim.world.trace.tail(),
    fullTrace: sim.world.trace.all(),
    stats: sim.finishStats(),
  };
}

/** Renders a failed run: seed, property, message, parameters and the trace before the end. */
export function describeRunFailure(result: RunResult): string {
  const v = result.firstViolation;
  const lines = [
    `FAIL seed ${result.seed}: ${v?.property ?? 'none'} at ${v?.timeUs ?? 0}us`,
    `  ${v?.message.split('\n').join('\n  ') ?? 'no violation'}`,
    `  parameters: ${result.stats.swarm}`,
    `  replay: npm run sim -- --seed ${result.seed} --seeds 1 --steps ${result.stats.opsTarget}`,
    `  last ${result.trace.length} events:`,
    ...result.trace.map((line) => `    ${line}`),
  ];
  return lines.join('\n');
}
