/**
 * Autopilot on the active node (docs/design/cluster.md §7): a learner that has stayed caught
 * up with the leader's log for the stabilization time is promoted to voter, one change at a
 * time (Raft allows one pending membership change). A joiner therefore never weakens quorum
 * while it is still copying the state. A learner an operator demoted stays one.
 */
import { asNodeId, ConfChangeType } from '@coffer/raft';
import type { DriverClock, RaftNode } from '@coffer/raft/node';

/** Autopilot settings. */
export interface AutopilotOptions {
  /** How long a learner must stay caught up before it is promoted; default 10 s. */
  readonly stabilizationMs?: number;
  /** How far behind the leader's last index a learner may be and count as caught up. */
  readonly lagEntriesMax?: number;
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
  #timer: { cancel(): void } | undefined;

  constructor(
    options: AutopilotOptions,
    parts: {
      readonly clock: DriverClock;
      readonly isActive: () => boolean;
      readonly mayPromote: (nodeId: number) => boolean;
    },
  ) {
    this.#options = options;
    this.#clock = parts.clock;
    this.#isActive = parts.isActive;
    this.#mayPromote = parts.mayPromote;
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
}
