/**
 * Autopilot on the active node (docs/design/cluster.md §7): a learner that has stayed caught
 * up with the leader's log for the stabilization time is promoted to voter, one change at a
 * time (Raft allows one pending membership change). A joiner therefore never weakens quorum
 * while it is still copying the state. A learner an operator demoted stays one.
 *
 * Dead-server cleanup (off unless configured, as in Vault): a member the leader has not heard
 * from for `deadServerLastContactThresholdMs` is removed, one at a time, but a voter only while
 * at least `minQuorum` voters remain. A member never heard from counts from when this node
 * became active, so a new leader does not remove members it has not had time to hear from.
 */
import { asNodeId, ConfChangeType } from '@coffer/raft';
import type { DriverClock, RaftNode } from '@coffer/raft/node';

import { CoreError } from '../errors.ts';
import type { HealthThresholds } from './autopilot_state.ts';
import type { SealLogger } from '../seal/seal_provider.ts';

/** Autopilot settings (with the health thresholds of the state view). */
export interface AutopilotOptions extends HealthThresholds {
  /** How long a learner must stay caught up before it is promoted; default 10 s. */
  readonly stabilizationMs?: number;
  /** How far behind the leader's last index a learner may be and count as caught up. */
  readonly lagEntriesMax?: number;
  /** Removes dead members when set. */
  readonly deadServerCleanup?: DeadServerCleanup;
}

/** When a member is dead, and how few voters cleanup leaves. */
export interface DeadServerCleanup {
  /** No message from the member for this long: dead (Vault's default 24 h). */
  readonly lastContactThresholdMs: number;
  /** Cleanup never leaves fewer voters than this (at least 3). */
  readonly minQuorum: number;
}

const checkIntervalMs = 1000;
const stabilizationMsDefault = 10_000;
const lagEntriesMaxDefault = 64;

/** Promotes caught-up learners while this node leads. */
export class Autopilot {
  readonly #options: AutopilotOptions;
  readonly #clock: DriverClock;
  readonly #isActive: () => boolean;
  readonly #mayPromote: (nodeId: number) => boolean;
  readonly #caughtUpSince = new Map<number, number>();
  readonly #removeDead: (nodeId: number) => Promise<void>;
  readonly #logger: SealLogger;
  /** When this node last became active (clock ms): the start of every member's silence. */
  #activeSinceMs: number | undefined;
  #removing: Promise<void> | undefined;
  #timer: { cancel(): void } | undefined;

  constructor(
    options: AutopilotOptions,
    parts: {
      readonly clock: DriverClock;
      readonly isActive: () => boolean;
      readonly mayPromote: (nodeId: number) => boolean;
      /** Removes a dead member (its record too); resolves once the change applied. */
      readonly removeDead: (nodeId: number) => Promise<void>;
      readonly logger: SealLogger;
    },
  ) {
    this.#options = options;
    this.#clock = parts.clock;
    this.#isActive = parts.isActive;
    this.#mayPromote = parts.mayPromote;
    this.#removeDead = parts.removeDead;
    this.#logger = parts.logger;
  }

  /** Starts checking `node` once a second. */
  start(node: RaftNode): void {
    this.stop();
    const tick = (): void => {
      this.#timer = this.#clock.setTimer(checkIntervalMs, tick);
      this.#check(node);
    };
    this.#timer = this.#clock.setTimer(checkIntervalMs, tick);
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#caughtUpSince.clear();
  }

  #check(node: RaftNode): void {
    if (!this.#isActive()) {
      this.#caughtUpSince.clear();
      this.#activeSinceMs = undefined;
      return;
    }
    this.#activeSinceMs ??= this.#clock.nowMs();
    if (this.#cleanUpDead(node)) {
      return;
    }
    const raft = node.raw.raft;
    const lastIndex = raft.log.lastIndex();
    const lagMax = this.#options.lagEntriesMax ?? lagEntriesMaxDefault;
    const stabilizationMs = this.#options.stabilizationMs ?? stabilizationMsDefault;
    const nowMs = this.#clock.nowMs();
    const learners = node.raw.status().confState.learners;
    for (const id of [...this.#caughtUpSince.keys()]) {
      if (!learners.some((learner) => learner === id)) {
        this.#caughtUpSince.delete(id);
      }
    }
    for (const learner of learners) {
      const progress = raft.progress.get(learner);
      const caughtUp =
        progress !== undefined && progress.match + lagMax >= lastIndex && this.#mayPromote(learner);
      if (!caughtUp) {
        this.#caughtUpSince.delete(learner);
        continue;
      }
      const since = this.#caughtUpSince.get(learner) ?? nowMs;
      this.#caughtUpSince.set(learner, since);
      if (nowMs - since >= stabilizationMs) {
        // NB: refused while another change is pending; the next check tries again.
        node.proposeConfChange({ type: ConfChangeType.addVoter, nodeId: asNodeId(learner) });
        return;
      }
    }
  }

  /** Removes one dead member when cleanup is on; true when a removal is under way. */
  #cleanUpDead(node: RaftNode): boolean {
    const cleanup = this.#options.deadServerCleanup;
    if (cleanup === undefined || this.#removing !== undefined) {
      return this.#removing !== undefined;
    }
    const conf = node.raw.status().confState;
    const nowMs = this.#clock.nowMs();
    const silentSince = (id: number): number =>
      node.lastHeardFromMs(id) ?? this.#activeSinceMs ?? nowMs;
    const dead = [...conf.learners, ...conf.voters].find(
      (id) =>
        id !== node.id &&
        nowMs - silentSince(id) > cleanup.lastContactThresholdMs &&
        (!conf.voters.includes(id) || conf.voters.length - 1 >= cleanup.minQuorum),
    );
    if (dead === undefined) {
      return false;
    }
    this.#logger.info('autopilot_removing_dead_server', {
      nodeId: dead,
      silentMs: nowMs - silentSince(dead),
    });
    this.#removing = this.#removeDead(dead)
      .catch((error: unknown) => {
        this.#logger.warn('autopilot_dead_server_removal_failed', {
          nodeId: dead,
          code: error instanceof CoreError ? error.code : 'unexpected',
        });
      })
      .finally(() => {
        this.#removing = undefined;
      });
    return true;
  }
}
