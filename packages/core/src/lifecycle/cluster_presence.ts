/**
 * A node's presence on the cluster port while it is unsealed: it brings up the node's cluster
 * identity once the cluster CA is in its replica (made at init, or here by the active node of a
 * cluster initialized before the cluster port existed), and drops it at seal.
 *
 * It looks once a second, as the active-node check does; a certificate therefore appears at
 * most a second after the CA reaches the replica, and follows a CA rotation as fast.
 */
import type { DriverClock, RaftNode } from '@coffer/raft/node';

import {
  ensureClusterAuthority,
  readClusterAuthority,
  retireAuthorities,
} from '../cluster/cluster_authority.ts';
import { readMember, writeMember } from '../cluster/cluster_members.ts';
import { Autopilot, type AutopilotOptions } from './autopilot.ts';
import {
  certificateLifetimeMsDefault,
  NodeClusterIdentity,
  type GrantedIdentity,
} from '../cluster/node_cluster_identity.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { SecureStore } from '../replicated/secure_store.ts';
import type { SealLogger } from '../seal/seal_provider.ts';

/** Settings of the cluster port identity. */
export interface ClusterPresenceOptions {
  /** A node certificate's lifetime; default a day. */
  readonly certificateLifetimeMs?: number;
  /** Told when the identity appears (unsealed, certificate in hand) and goes (sealed). */
  readonly onIdentity?: (identity: NodeClusterIdentity | undefined) => void;
  /**
   * Where this node is reached; the active node keeps its own member record in step with it
   * (a joiner's record is written by the join).
   */
  readonly advertise?: { readonly clusterAddress: string; readonly apiAddress: string };
  /** When learners are promoted to voters (on the active node). */
  readonly autopilot?: AutopilotOptions;
}

/** What the presence needs of its node. */
export interface ClusterPresenceNode {
  readonly nodeId: number;
  readonly clock: DriverClock;
  readonly wallClockMs: () => number;
  readonly logger: SealLogger;
  /** The cluster id of the seal record, once initialized. */
  readonly clusterId: () => string | undefined;
  /** Whether the node is the active node now. */
  readonly isActive: () => boolean;
  /** Whether autopilot may promote a learner (an operator did not demote it). */
  readonly mayPromote: (nodeId: number) => boolean;
  /** Removes a member (autopilot's dead-server cleanup); resolves once the change applied. */
  readonly removeMember: (nodeId: number) => Promise<void>;
}

const checkIntervalMs = 1000;

/** Owns one node's NodeClusterIdentity across unseal and seal. */
export class ClusterPresence {
  readonly #options: ClusterPresenceOptions;
  readonly #node: ClusterPresenceNode;
  #identity: NodeClusterIdentity | undefined;
  readonly #autopilot: Autopilot;
  #check: { cancel(): void } | undefined;
  #busy = false;

  constructor(options: ClusterPresenceOptions, node: ClusterPresenceNode) {
    this.#options = options;
    this.#node = node;
    this.#autopilot = new Autopilot(options.autopilot ?? {}, {
      clock: node.clock,
      isActive: node.isActive,
      mayPromote: node.mayPromote,
      removeDead: node.removeMember,
      logger: node.logger,
    });
  }

  /** The identity while the node is unsealed and holds a certificate. */
  get identity(): NodeClusterIdentity | undefined {
    return this.#identity?.ready === true ? this.#identity : undefined;
  }

  /** Starts looking for the CA on a running, unsealed node. */
  start(running: { readonly node: RaftNode; readonly secure: SecureStore }): void {
    this.stop();
    const identity = this.#newIdentity(running, undefined);
    this.#identity = identity;
    this.#autopilot.start(running.node);
    const tick = (): void => {
      this.#check = this.#node.clock.setTimer(checkIntervalMs, tick);
      void (identity.ready ? this.#maintain(identity, running) : this.#bringUp(identity, running));
    };
    tick();
  }

  /**
   * Once a second while unsealed: renew at once when the CA record changed (a rotation: peers
   * must trust the new CA before anyone presents a certificate from it), and on the active
   * node retire old CAs one certificate lifetime after a rotation.
   */
  async #maintain(
    identity: NodeClusterIdentity,
    running: { readonly node: RaftNode; readonly secure: SecureStore },
  ): Promise<void> {
    if (this.#busy) {
      return;
    }
    this.#busy = true;
    try {
      await identity.followAuthority();
      if (this.#node.isActive()) {
        const retired = await retireAuthorities(running.secure, {
          nowMs: this.#node.wallClockMs(),
          certificateLifetimeMs:
            this.#options.certificateLifetimeMs ?? certificateLifetimeMsDefault,
        });
        if (retired) {
          this.#node.logger.info('cluster_ca_retired', { nodeId: identity.nodeId });
        }
      }
    } catch (error) {
      this.#node.logger.warn('cluster_identity_maintenance_failed', { code: codeOf(error) });
    } finally {
      this.#busy = false;
    }
  }

  #newIdentity(
    running: { readonly node: RaftNode; readonly secure: SecureStore },
    granted: GrantedIdentity | undefined,
  ): NodeClusterIdentity {
    return new NodeClusterIdentity({
      nodeId: this.#node.nodeId,
      secure: running.secure,
      isMember: (id) => {
        const conf = running.node.raw.status().confState;
        return conf.voters.some((v) => v === id) || conf.learners.some((l) => l === id);
      },
      clock: this.#node.clock,
      wallClockMs: this.#node.wallClockMs,
      ...(this.#options.certificateLifetimeMs === undefined
        ? {}
        : { certificateLifetimeMs: this.#options.certificateLifetimeMs }),
      onRenewalFailed: (error) => {
        this.#node.logger.warn('cluster_certificate_renewal_failed', { code: codeOf(error) });
      },
      ...(granted === undefined ? {} : { granted }),
    });
  }

  /**
   * Takes the identity a join granted, for a node that runs Raft while still sealed; unseal
   * replaces it through start().
   */
  joined(
    running: { readonly node: RaftNode; readonly secure: SecureStore },
    granted: GrantedIdentity,
  ): void {
    this.stop();
    const identity = this.#newIdentity(running, granted);
    this.#identity = identity;
    void identity.start().then(() => {
      if (this.#identity === identity) {
        this.#node.logger.info('cluster_identity_granted', { nodeId: identity.nodeId });
        this.#options.onIdentity?.(identity);
      }
    });
  }

  /**
   * Takes the identity a join granted on a removed node that was admitted again (unsealed and
   * running): that certificate serves until the node applied its re-admission, when its replica
   * holds the current CA again; then it issues its own as usual.
   */
  rejoined(
    running: { readonly node: RaftNode; readonly secure: SecureStore },
    granted: GrantedIdentity,
  ): void {
    this.joined(running, granted);
    const readmitted = (): boolean => {
      const conf = running.node.raw.status().confState;
      return [...conf.voters, ...conf.learners].some((id) => id === running.node.id);
    };
    const wait = (): void => {
      this.#check = this.#node.clock.setTimer(checkIntervalMs, () => {
        if (readmitted()) {
          this.start(running);
        } else {
          wait();
        }
      });
    };
    wait();
  }

  /** Drops the identity (seal, close). */
  stop(): void {
    this.#autopilot.stop();
    this.#check?.cancel();
    this.#check = undefined;
    const identity = this.#identity;
    this.#identity = undefined;
    if (identity?.ready === true) {
      identity.stop();
      this.#options.onIdentity?.(undefined);
    } else {
      identity?.stop();
    }
  }

  async #advertise(secure: SecureStore): Promise<void> {
    const advertise = this.#options.advertise;
    if (advertise === undefined) {
      return;
    }
    const known = readMember(secure, this.#node.nodeId);
    if (
      known?.clusterAddress !== advertise.clusterAddress ||
      known.apiAddress !== advertise.apiAddress
    ) {
      await writeMember(secure, { nodeId: this.#node.nodeId, ...advertise });
    }
  }

  async #bringUp(
    identity: NodeClusterIdentity,
    running: { readonly node: RaftNode; readonly secure: SecureStore },
  ): Promise<void> {
    if (identity.ready || this.#busy) {
      return;
    }
    this.#busy = true;
    try {
      const leads = running.node.raw.status().softState.role === 'leader';
      if (readClusterAuthority(running.secure) === undefined) {
        const clusterId = this.#node.clusterId();
        if (!leads || clusterId === undefined) {
          return;
        }
        await ensureClusterAuthority(running.secure, {
          clusterId,
          nowMs: this.#node.wallClockMs(),
        });
      }
      if (leads) {
        await this.#advertise(running.secure);
      }
      await identity.start();
      if (this.#identity === identity) {
        this.#node.logger.info('cluster_identity_ready', { nodeId: identity.nodeId });
        identity.onChange(() => {
          this.#node.logger.info('cluster_certificate_renewed', { nodeId: identity.nodeId });
        });
        this.#options.onIdentity?.(identity);
      }
    } catch (error) {
      // NB: no CA here yet is the normal wait of a follower; anything else is worth a look.
      if (codeOf(error) !== CoreErrorCode.clusterIdentityUnavailable) {
        this.#node.logger.warn('cluster_identity_not_ready', { code: codeOf(error) });
      }
    } finally {
      this.#busy = false;
    }
  }
}

function codeOf(error: unknown): string {
  return error instanceof CoreError ? error.code : 'unexpected';
}
