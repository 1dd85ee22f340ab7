/**
 * A node's part in cluster membership: on the active node, join tokens and the acceptance of a
 * joiner; on a joining node, taking the grant (Raft starts as a learner with the granted
 * membership and certificate, before any unseal); on every node, the peer list.
 *
 * NB: a joiner runs Raft while sealed so that it takes in the state (seal records and keyring
 * included) from the leader; then it unseals like any member, with shares or its HSM.
 */
import { autopilotState, type AutopilotState } from './autopilot_state.ts';
import { asNodeId, ConfChangeType } from '@coffer/raft';
import type { DriverClock } from '@coffer/raft/node';
import type { LevelStateStore } from '@coffer/storage';

import type { Barrier } from '../barrier/barrier.ts';
import { rotateClusterAuthority } from '../cluster/cluster_authority.ts';
import {
  acceptJoin,
  createJoinToken,
  type JoinGrant,
  type JoinRequest,
} from '../cluster/cluster_join.ts';
import { memberPath, readMember, type MemberAddresses } from '../cluster/cluster_members.ts';
import { proposeMembership } from '../cluster/membership_change.ts';
import { certificateLifetimeMsDefault } from '../cluster/node_cluster_identity.ts';
import type { AcceptedGrant } from '../cluster/joiner.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import { keyringPath } from '../replicated/system_paths.ts';
import type { ClusterPresence, ClusterPresenceOptions } from './cluster_presence.ts';
import type { RaftRunner, RunningRaft } from './raft_runner.ts';

/** Where an operator's demotion of a node is remembered (autopilot leaves it a learner). */
function noPromotePath(nodeId: number): string {
  return `core/cluster/no-promote/${nodeId}`;
}

/** The membership changes an operator makes by hand. */
export type MemberChange = 'remove' | 'promote' | 'demote';

/** One member as list-peers shows it. */
export interface PeerInfo {
  readonly nodeId: number;
  readonly voter: boolean;
  readonly leader: boolean;
  /** Unknown until the member's record reached this node (or while it is sealed). */
  readonly clusterAddress: string | undefined;
  readonly apiAddress: string | undefined;
}

/** What membership needs of its node. */
export interface ClusterMembershipParts {
  readonly raft: RaftRunner;
  readonly presence: ClusterPresence;
  readonly store: LevelStateStore;
  readonly barrier: Barrier;
  readonly clock: DriverClock;
  readonly wallClockMs: () => number;
  readonly settings: ClusterPresenceOptions;
  /** Whether this node is the active node now. */
  readonly isActive: () => boolean;
  /** Whether this node was removed from the cluster (it serves COFFER_CORE_REMOVED). */
  readonly isRemoved: () => boolean;
  /** This removed node was admitted again: forget what said it was removed. */
  readonly readmitted: () => void;
  /** This fresh node joined and runs Raft sealed, taking in the cluster's state. */
  readonly joined: () => void;
}

/** Join tokens last an hour unless asked otherwise. */
export const joinTokenTtlMsDefault = 60 * 60 * 1000;

/** Cluster membership operations of one node. */
export class ClusterMembership {
  readonly #parts: ClusterMembershipParts;
  /** The members a join granted: where peers are while this node cannot read its replica. */
  #granted = new Map<number, MemberAddresses>();

  constructor(parts: ClusterMembershipParts) {
    this.#parts = parts;
  }

  /** A one-time join token naming this node's API address (active node only). Secret. */
  async createJoinToken(options: { readonly ttlMs?: number } = {}): Promise<string> {
    const running = this.#active();
    const advertise = this.#parts.settings.advertise;
    if (advertise === undefined) {
      throw new CoreError(
        CoreErrorCode.joinRefused,
        'Configure the cluster port (cluster.address) first: this node advertises no address to join',
      );
    }
    return await createJoinToken(
      { secure: running.secure, wallClockMs: this.#parts.wallClockMs },
      { ttlMs: options.ttlMs ?? joinTokenTtlMsDefault, addresses: [advertise.apiAddress] },
    );
  }

  /** Answers a joiner (active node only): adds it as a learner and grants it. */
  async acceptJoin(request: JoinRequest): Promise<JoinGrant> {
    const running = this.#active();
    return await acceptJoin(
      {
        node: running.node,
        secure: running.secure,
        barrier: this.#parts.barrier,
        wallClockMs: this.#parts.wallClockMs,
        clock: this.#parts.clock,
        certificateLifetimeMs:
          this.#parts.settings.certificateLifetimeMs ?? certificateLifetimeMsDefault,
      },
      request,
    );
  }

  /**
   * Whether this node may ask to join (before it asks, so no token is spent in vain): a fresh
   * node, or a removed one that is unsealed (it joins again with the data it holds). Throws
   * COFFER_CORE_JOIN_REFUSED otherwise.
   */
  assertMayJoin(): void {
    const { raft, store, barrier } = this.#parts;
    const current = raft.current;
    if (current !== undefined && !barrier.isSealed) {
      if (!this.#parts.isRemoved()) {
        throw new CoreError(
          CoreErrorCode.joinRefused,
          'Join a node that is fresh or was removed: this one is a member of its cluster',
        );
      }
      return;
    }
    if (store.get(keyringPath) !== undefined || current !== undefined || raft.hasLog()) {
      throw new CoreError(
        CoreErrorCode.joinRefused,
        "Unseal this node first: it holds a cluster's data, and a removed node joins again with it once unsealed",
      );
    }
  }

  /**
   * Takes a verified grant on the joining node: Raft starts with the granted membership (this
   * node a learner) and the granted certificate serves the cluster port until unseal; a
   * removed node keeps its Raft and data. Refused on a node that is initialized or runs Raft
   * and was not removed.
   */
  async join(grant: AcceptedGrant): Promise<void> {
    const { raft, presence, barrier } = this.#parts;
    const current = raft.current;
    if (current !== undefined && !barrier.isSealed) {
      // NB: a removed node comes back with the data it holds (assertMayJoin let it ask): the
      // leader added it again as a learner, and Raft catches it up from where it stopped (or
      // by snapshot). The granted certificate serves until it applied its re-admission, since
      // the CA may have rotated meanwhile.
      this.#granted = new Map(grant.members.map((m) => [m.nodeId, m]));
      this.#parts.readmitted();
      presence.rejoined(current, grant.identity);
      return;
    }
    this.assertMayJoin();
    const running = await raft.start({
      confState: {
        voters: grant.voters.map(asNodeId),
        learners: grant.learners.map(asNodeId),
      },
      snapshotKey: grant.snapshotKey,
    });
    this.#granted = new Map(grant.members.map((m) => [m.nodeId, m]));
    presence.joined(running, grant.identity);
    this.#parts.joined();
  }

  /**
   * Where member `nodeId` is reached: from the replica once unsealed (records follow the log),
   * from the join's grant before that.
   */
  addressesOf(nodeId: number): MemberAddresses | undefined {
    const running = this.#parts.raft.current;
    if (running !== undefined && !this.#parts.barrier.isSealed) {
      const member = readMember(running.secure, nodeId);
      if (member !== undefined) {
        return member;
      }
    }
    return this.#granted.get(nodeId);
  }

  /**
   * Removes, promotes or demotes member `nodeId` (active node only) and resolves once the
   * change applied. A demoted node stays a learner: autopilot does not promote it again until
   * an operator does. Refused when it would leave no voter.
   */
  async changeMember(change: MemberChange, nodeId: number): Promise<void> {
    const running = this.#active();
    const conf = running.node.raw.status().confState;
    const isVoter = conf.voters.some((id) => id === nodeId);
    const isLearner = conf.learners.some((id) => id === nodeId);
    if (!isVoter && !isLearner) {
      throw new CoreError(
        CoreErrorCode.notFound,
        `Check the node id: ${nodeId} is not a member (coffer operator raft list-peers)`,
      );
    }
    if (change !== 'promote' && isVoter && conf.voters.length === 1) {
      throw new CoreError(
        CoreErrorCode.invalidRequest,
        `Keep node ${nodeId}: it is the only voter, and a cluster without one cannot commit`,
      );
    }
    const type =
      change === 'remove'
        ? ConfChangeType.removeNode
        : change === 'promote'
          ? ConfChangeType.addVoter
          : ConfChangeType.addLearner;
    if (change !== 'remove') {
      await this.#setNoPromote(running, nodeId, change === 'demote');
    }
    await proposeMembership(
      running.node,
      { type, nodeId: asNodeId(nodeId) },
      {
        clock: this.#parts.clock,
        applied: (after) =>
          change === 'remove'
            ? ![...after.voters, ...after.learners].some((id) => id === nodeId)
            : (change === 'promote' ? after.voters : after.learners).some((id) => id === nodeId),
      },
    );
    if (change === 'remove') {
      await running.secure.delete(memberPath(nodeId));
    }
  }

  /**
   * Starts a rotation of the cluster CA (active node): the new CA issues at once and every
   * node renews under it within a second; the old one stays trusted for one certificate
   * lifetime. Answers how many CAs the cluster trusts now.
   */
  async rotateAuthority(): Promise<number> {
    const running = this.#active();
    const rotated = await rotateClusterAuthority(running.secure, {
      nowMs: this.#parts.wallClockMs(),
    });
    return rotated.authorities.length;
  }

  /** Whether autopilot may promote learner `nodeId` (not demoted by an operator). */
  mayPromote(nodeId: number): boolean {
    const running = this.#parts.raft.current;
    return running === undefined || running.secure.getLocal(noPromotePath(nodeId)) === undefined;
  }

  async #setNoPromote(running: RunningRaft, nodeId: number, demoted: boolean): Promise<void> {
    if (demoted) {
      await running.secure.put(noPromotePath(nodeId), new TextEncoder().encode('demoted'));
    } else if (running.secure.getLocal(noPromotePath(nodeId)) !== undefined) {
      await running.secure.delete(noPromotePath(nodeId));
    }
  }

  /** The members as this node knows them. */
  peers(): readonly PeerInfo[] {
    const running = this.#parts.raft.current;
    if (running === undefined) {
      return [];
    }
    const status = running.node.raw.status();
    const readable = !this.#parts.barrier.isSealed;
    const describe = (id: number, voter: boolean): PeerInfo => {
      const member = readable ? readMember(running.secure, id) : undefined;
      return {
        nodeId: id,
        voter,
        leader: status.softState.leader === id,
        clusterAddress: member?.clusterAddress,
        apiAddress: member?.apiAddress,
      };
    };
    return [
      ...status.confState.voters.map((id) => describe(id, true)),
      ...status.confState.learners.map((id) => describe(id, false)),
    ];
  }

  /** The autopilot state view (active node only): health, failure tolerance, last contacts. */
  autopilotState(): AutopilotState {
    const running = this.#active();
    return autopilotState(running.node, this.peers(), {
      ...this.#parts.settings.autopilot,
      nowMs: this.#parts.clock.nowMs(),
    });
  }

  #active(): RunningRaft {
    const running = this.#parts.raft.current;
    if (running === undefined || !this.#parts.isActive()) {
      throw new CoreError(
        CoreErrorCode.notActive,
        'Send the request to the active node: only it makes join tokens and admits members',
      );
    }
    return running;
  }
}
