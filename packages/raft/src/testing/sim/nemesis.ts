/**
 * The nemesis: the faults of a run's safety phase, drawn from the seed's swarm parameters
 * (swarm.ts) at random intervals:
 *
 * - network: symmetric partitions, one-way cuts, the leader isolated, clogged links, heals;
 * - processes: crashes (often of the leader, or of a node in the middle of an fsync), power
 *   losses that crash every node at once, pauses (GC stalls) of up to three election timeouts;
 * - operations: membership changes (add a learner, new or removed before, promote it, remove a
 *   voter or a learner, the leader included), leadership transfers, forced snapshots;
 * - a flapping leader: in some seeds a new leader crashes or is cut off a few milliseconds after
 *   its election or after its first commit, in the middle of catching its followers up.
 */
import { asNodeId, ConfChangeType, type ConfChange, type NodeId } from '../../index.ts';
import type { SeededRandom } from '../seeded_random.ts';
import type { SimNetwork } from './sim_network.ts';
import type { SimNode } from './sim_node.ts';
import type { SimWorld } from './sim_world.ts';
import type { FaultKind, SwarmParams } from './swarm.ts';

/** Node ids a run may use; the initial cluster takes the first 3 or 5. */
export const nodeIdsMax = 7;

/** How many faults of each kind a run injected. */
export interface FaultCounters {
  crashes: number;
  pauses: number;
  partitions: number;
  confChanges: number;
  transfers: number;
  snapshots: number;
}

/** What the nemesis needs from the simulation. */
export interface NemesisHost {
  readonly world: SimWorld;
  readonly network: SimNetwork;
  readonly random: SeededRandom;
  readonly swarm: SwarmParams;
  readonly stats: FaultCounters;
  readonly nodes: ReadonlyMap<NodeId, SimNode>;
  /** The up node that leads in the highest term, if any. */
  leader(): SimNode | undefined;
  /** Starts the process of a node about to be added as a learner. */
  spawn(id: NodeId): void;
  /** Restarts members that were shut down as removed and have been added back. */
  reviveMembers(): void;
}

type NetworkFault = 'partition' | 'oneWay' | 'isolateLeader' | 'clog' | 'heal';

/** Injects the faults of one run until stopped. */
export class Nemesis {
  readonly #host: NemesisHost;
  #on = true;

  constructor(host: NemesisHost) {
    this.#host = host;
  }

  /** Whether faults are still being injected. */
  get on(): boolean {
    return this.#on;
  }

  /** Starts injecting faults. */
  start(): void {
    this.#scheduleNext();
  }

  /** Stops injecting faults (those already scheduled to end still end). */
  stop(): void {
    this.#on = false;
  }

  #note(text: string): void {
    const world = this.#host.world;
    world.trace.note(world.nowUs, text);
  }

  #scheduleNext(): void {
    const host = this.#host;
    host.world.after(1 + host.random.int(host.swarm.nemesisIntervalMaxUs), () => {
      if (!this.#on) {
        return;
      }
      this.#step();
      this.#scheduleNext();
    });
  }

  #pickFault(): FaultKind | undefined {
    const weights = this.#host.swarm.faults;
    const kinds = Object.keys(weights) as FaultKind[];
    const total = kinds.reduce((sum, k) => sum + weights[k], 0);
    let roll = this.#host.random.int(total);
    for (const kind of kinds) {
      roll -= weights[kind];
      if (roll < 0) {
        return kind;
      }
    }
    return undefined;
  }

  #step(): void {
    this.#host.reviveMembers();
    const kind = this.#pickFault();
    switch (kind) {
      case undefined:
        return;
      case 'partition':
      case 'oneWay':
      case 'isolateLeader':
      case 'clog':
      case 'heal':
        this.#networkFault(kind);
        return;
      case 'crash':
        this.#crashSomeNode();
        return;
      case 'crashAll':
        this.#crashEveryNode();
        return;
      case 'pause':
        this.#pauseSomeNode();
        return;
      case 'membership':
        this.#changeMembership();
        return;
      case 'transfer':
        this.#transferLeadership();
        return;
      case 'snapshot':
        this.#forceSnapshot();
        return;
    }
  }

  #upNodes(): SimNode[] {
    return [...this.#host.nodes.values()].filter((n) => n.up);
  }

  #cutFor(durationUs: number, why: string): void {
    const host = this.#host;
    host.stats.partitions++;
    this.#note(`nemesis: ${why}, cut ${host.network.describeCuts()} for ${durationUs}us`);
    host.world.after(durationUs, () => {
      host.network.healLinks();
      this.#note('nemesis: links healed');
    });
  }

  #networkFault(kind: NetworkFault): void {
    const host = this.#host;
    const ids = [...host.nodes.keys()];
    const random = host.random;
    const durationUs = 50_000 + random.int(1_500_000);
    if (kind === 'heal') {
      host.network.healLinks();
      this.#note('nemesis: heal all links');
      return;
    }
    if (ids.length < 2 && (kind === 'clog' || kind === 'oneWay')) {
      return; // NB: a one-node cluster has no link to cut.
    }
    if (kind === 'clog') {
      const from = random.pick(ids);
      const to = random.pick(ids.filter((id) => id !== from));
      host.network.clog(from, to, host.world.nowUs + durationUs);
      host.stats.partitions++;
      this.#note(`nemesis: clog ${from}->${to} for ${durationUs}us`);
      return;
    }
    if (kind === 'oneWay') {
      for (let i = 0; i < 1 + random.int(3); i++) {
        const from = random.pick(ids);
        host.network.blockOneWay(from, random.pick(ids.filter((id) => id !== from)));
      }
    } else {
      const leader = host.leader();
      const isolated =
        kind === 'isolateLeader' && leader !== undefined
          ? [leader.id]
          : ids.filter(() => random.chance(0.5));
      host.network.partition(
        isolated,
        ids.filter((id) => !isolated.includes(id)),
      );
    }
    this.#cutFor(durationUs, kind);
  }

  #crashSomeNode(): void {
    const host = this.#host;
    const up = this.#upNodes();
    const down = host.nodes.size - up.length;
    if (
      up.length === 0 ||
      down >= Math.floor(host.nodes.size / 2) + (host.random.chance(0.2) ? 1 : 0)
    ) {
      return;
    }
    // The crashes that matter most: of the leader, and in the middle of an fsync.
    const syncing = up.filter((n) => n.isSyncing());
    const roll = host.random.float();
    const leader = host.leader();
    const node =
      roll < 0.3 && leader !== undefined
        ? leader
        : roll < 0.6 && syncing.length > 0
          ? host.random.pick(syncing)
          : host.random.pick(up);
    this.#crashAndRestart(node, 10_000 + host.random.int(1_000_000));
  }

  #crashAndRestart(node: SimNode, downUs: number): void {
    node.crash({ decommission: false });
    this.#host.stats.crashes++;
    // Most peers see their connection to a dead process break within milliseconds.
    for (const peer of this.#upNodes()) {
      if (this.#host.random.float() < 0.8) {
        this.#host.world.after(500 + this.#host.random.int(5_000), () => {
          peer.peerLost(node.id);
        });
      }
    }
    this.#host.world.after(downUs, () => {
      if (!node.up && !node.decommissioned) {
        node.start();
      }
    });
  }

  /** A power loss: every running node crashes at once and comes back shortly. */
  #crashEveryNode(): void {
    this.#note('nemesis: power loss, every node crashes');
    for (const node of this.#upNodes()) {
      this.#crashAndRestart(node, 10_000 + this.#host.random.int(300_000));
    }
  }

  #pauseSomeNode(): void {
    const host = this.#host;
    const up = this.#upNodes();
    if (up.length === 0) {
      return;
    }
    const node = host.random.chance(0.3)
      ? (host.leader() ?? host.random.pick(up))
      : host.random.pick(up);
    const ticks = (host.swarm.node.raft.electionTimeoutTicks ?? 10) * 3;
    node.pause(1000 + host.random.int(ticks * host.swarm.tickIntervalUs));
    host.stats.pauses++;
  }

  #pickConfChange(voters: readonly NodeId[], learners: readonly NodeId[]): ConfChange | undefined {
    const random = this.#host.random;
    const learner = learners[0];
    if (learner !== undefined && random.chance(0.7)) {
      return { type: ConfChangeType.addVoter, nodeId: learner };
    }
    if (voters.length + learners.length < nodeIdsMax && random.chance(0.5)) {
      const free: NodeId[] = [];
      for (let i = 1; i <= nodeIdsMax; i++) {
        if (!voters.includes(asNodeId(i)) && !learners.includes(asNodeId(i))) {
          free.push(asNodeId(i));
        }
      }
      return { type: ConfChangeType.addLearner, nodeId: random.pick(free) };
    }
    if (voters.length > 3 || (learners.length > 0 && random.chance(0.5))) {
      return {
        type: ConfChangeType.removeNode,
        nodeId: random.pick(voters.length > 3 ? voters : learners),
      };
    }
    return undefined;
  }

  #changeMembership(): void {
    const host = this.#host;
    const leader = host.leader();
    if (leader === undefined) {
      return;
    }
    const change = this.#pickConfChange(leader.raft.voters, leader.raft.learners);
    if (change === undefined) {
      return;
    }
    if (change.type === ConfChangeType.addLearner) {
      host.spawn(change.nodeId);
    }
    if (leader.proposeConfChange(change)?.ok === true) {
      host.stats.confChanges++;
    }
  }

  #transferLeadership(): void {
    const host = this.#host;
    const leader = host.leader();
    if (leader === undefined) {
      return;
    }
    const others = leader.raft.voters.filter((id) => id !== leader.id);
    if (others.length > 0 && leader.transferLeader(host.random.pick(others))?.ok === true) {
      host.stats.transfers++;
    }
  }

  #forceSnapshot(): void {
    const up = this.#upNodes();
    if (up.length > 0) {
      this.#host.random.pick(up).forceSnapshot();
      this.#host.stats.snapshots++;
    }
  }

  /**
   * A flapping leader: in some seeds a new leader crashes or is cut off a few milliseconds
   * after its election or its first commit, in the middle of catching its followers up (Raft
   * Figure 8 needs that), and leaves behind entries it appended but never replicated.
   */
  maybeFlap(nodeId: NodeId, term: number): void {
    const host = this.#host;
    const swarm = host.swarm;
    if (!this.#on || swarm.leaderFlapRate === 0 || !host.random.chance(swarm.leaderFlapRate)) {
      return;
    }
    const crash = host.random.chance(0.5);
    host.world.after(host.random.int(swarm.leaderFlapDelayMaxUs + 1), () => {
      const node = host.nodes.get(nodeId);
      if (node === undefined || !node.isLeader() || node.raft.term !== term || !this.#on) {
        return;
      }
      if (crash) {
        this.#note(`nemesis: crash new leader ${nodeId}`);
        // NB: a short outage, so that the flapped leader, with the entries it never
        // replicated, is back while the next leader is still catching up.
        this.#crashAndRestart(node, 10_000 + host.random.int(150_000));
        return;
      }
      host.network.partition(
        [nodeId],
        [...host.nodes.keys()].filter((id) => id !== nodeId),
      );
      this.#cutFor(50_000 + host.random.int(500_000), `isolate new leader ${nodeId}`);
    });
  }
}
