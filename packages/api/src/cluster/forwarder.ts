/**
 * A standby's request policy (docs/design/cluster.md §5): every request it cannot serve goes to
 * the active node over the cluster channel, with the same request id on every try, until the
 * request's deadline.
 *
 *   wait for a leader ──known──▶ send ──answer──▶ done
 *     ▲   (pushed change,          │ unreachable, deadline of the call,
 *     │    or the retry backoff)   │ NOT_ACTIVE or NOT_READY
 *     └────────────────────────────┘
 *   the request's deadline passes while waiting or sending: COFFER_CORE_NOT_ACTIVE, "retry"
 *   no leader known for `leaderlessAnswerMs` (longer than an election takes): COFFER_CORE_NO_LEADER
 *
 * The leader comes from a {@link LeaderSource} the owner feeds (from Raft status, and from
 * peers' leader streams), so a change is pushed here, never polled. After a failed try the
 * forwarder waits for the next change, and tries the same leader again only after a jittered
 * backoff (a leader that answered NOT_READY becomes ready without a leader change; a dropped
 * connection may come back).
 *
 * Invariant: every try of one request carries one request id (the caller's, or one made here
 * before the first try), so the active node's request-outcome table answers a resend of a
 * request a failed leader had already served with the first outcome.
 * A node cut off from a quorum (a partition) knows no leader: rather than hold its requests
 * until their deadlines, it says so once the leaderless time exceeds what an election takes,
 * and clients move to another node.
 * NB: the owner calls this only for requests this node does not serve itself (not the
 * lifecycle endpoints); when this node becomes the leader meanwhile, the request goes to
 * `local`, its own request path.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import { CoreErrorCode, type CoreRequest, type CoreResponse } from '@coffer/core';

import { isRetryableForwardError, ForwardError } from './forward_client.ts';
import {
  forwardRequestIdPattern,
  type LeaderChange,
  type LeaderSource,
} from './forward_service.ts';
import { clusterRandomInt, realClusterTimer } from './cluster_timing.ts';
import { reconnectDelayMs, type ClusterTimer, type ReconnectBackoff } from './raft_peer_stream.ts';

/** Where a request is sent: a {@link ForwardClient} in production. */
export interface ForwardTarget {
  forward(
    leaderId: number,
    request: CoreRequest,
    options: { readonly deadlineMs: number },
  ): Promise<CoreResponse>;
}

/** A monotonic clock in milliseconds, faked in tests. */
export interface ForwarderClock {
  nowMs(): number;
}

/** Options of a {@link Forwarder}. */
export interface ForwarderOptions {
  /** This node's id: a leader change naming it sends the request to `local`. */
  readonly selfId: number;
  /** Who leads, pushed: fed by the owner from Raft status and peers' leader streams. */
  readonly leaders: LeaderSource;
  readonly client: ForwardTarget;
  /** This node's own request path, for when it is the leader itself. */
  readonly local: (request: CoreRequest) => Promise<CoreResponse>;
  /** How long a request may take, tries and waits included, when its caller sets no deadline; default 10 s. */
  readonly deadlineMs?: number;
  /** The wait before the same leader is tried again; default 50 ms doubling up to 1 s, jittered. */
  readonly retryBackoff?: ReconnectBackoff;
  readonly clock?: ForwarderClock;
  readonly timer?: ClusterTimer;
  /** The jitter source, an integer in [0, maxExclusive); default node:crypto. */
  readonly randomInt?: (maxExclusive: number) => number;
  /** Makes a request id for a request that comes without a usable one; default a UUID. */
  readonly newRequestId?: () => string;
  /**
   * How long this node may know no leader before a waiting request is answered
   * COFFER_CORE_NO_LEADER (longer than an election takes); unset, requests wait their deadline.
   */
  readonly leaderlessAnswerMs?: number;
}

/** Counters of a {@link Forwarder}, since it was made. */
export interface ForwarderStats {
  readonly requests: number;
  /** Tries, first ones included (a try to `local` counts too). */
  readonly tries: number;
  /** Tries that brought no answer or a NOT_ACTIVE / NOT_READY one. */
  readonly triesFailed: number;
  /** Requests answered NOT_ACTIVE because their deadline passed. */
  readonly deadlinesPassed: number;
  /** Requests answered NOT_ACTIVE because the leader refused the forward itself. */
  readonly forwardsRefused: number;
  /** Requests answered NO_LEADER: this node knew no leader for too long. */
  readonly leaderless: number;
}

const deadlineMsDefault = 10_000;
const retryBackoffDefault: ReconnectBackoff = { initialMs: 50, maxMs: 1_000 };

/**
 * The codes that mean "not here, not now": the answering node is not (or not yet) the active
 * one (docs/design/cluster.md §4).
 */
const retryCodes: ReadonlySet<string> = new Set([CoreErrorCode.notActive, CoreErrorCode.notReady]);

const monotonicClock: ForwarderClock = { nowMs: () => performance.now() };

/** The outcome of one try. */
type TryOutcome =
  | { readonly kind: 'answer'; readonly response: CoreResponse }
  | { readonly kind: 'retry' }
  | { readonly kind: 'refused'; readonly error: ForwardError };

/** A standby's request path: forward to the active node, and resend across failovers. */
export class Forwarder {
  readonly #options: ForwarderOptions;
  readonly #clock: ForwarderClock;
  readonly #timer: ClusterTimer;
  #requests = 0;
  #tries = 0;
  #triesFailed = 0;
  #deadlinesPassed = 0;
  #forwardsRefused = 0;
  #leaderless = 0;
  /** Since when this node has known no leader (undefined while it knows one). */
  #leaderlessSinceMs: number | undefined;
  readonly #unsubscribe: () => void;

  constructor(options: ForwarderOptions) {
    const backoff = options.retryBackoff ?? retryBackoffDefault;
    assert(Number.isSafeInteger(backoff.initialMs) && backoff.initialMs > 0);
    assert(Number.isSafeInteger(backoff.maxMs) && backoff.maxMs >= backoff.initialMs);
    assert(options.deadlineMs === undefined || options.deadlineMs > 0);
    assert(options.leaderlessAnswerMs === undefined || options.leaderlessAnswerMs > 0);
    this.#options = options;
    this.#clock = options.clock ?? monotonicClock;
    this.#timer = options.timer ?? realClusterTimer;
    const known = (change: LeaderChange | undefined): boolean =>
      change !== undefined && change.leaderId !== 0;
    this.#leaderlessSinceMs = known(options.leaders.current()) ? undefined : this.#clock.nowMs();
    this.#unsubscribe = options.leaders.onChange((change) => {
      if (known(change)) {
        this.#leaderlessSinceMs = undefined;
      } else {
        this.#leaderlessSinceMs ??= this.#clock.nowMs();
      }
    });
  }

  /** Stops following leader changes (the port closes). */
  close(): void {
    this.#unsubscribe();
  }

  /**
   * Serves `request` on the active node, trying again on the next leader until the deadline
   * (`options.deadlineMs` from now, or the default); then answers COFFER_CORE_NOT_ACTIVE.
   */
  async handle(
    request: CoreRequest,
    options: { readonly deadlineMs?: number } = {},
  ): Promise<CoreResponse> {
    this.#requests += 1;
    const deadlineAtMs =
      this.#clock.nowMs() + (options.deadlineMs ?? this.#options.deadlineMs ?? deadlineMsDefault);
    const requestId = this.#requestIdOf(request);
    const sent: CoreRequest = { ...request, requestId };
    let tried: LeaderChange | undefined;
    for (let attempt = 0; ; attempt += 1) {
      const leader = await this.#nextLeader(tried, attempt, deadlineAtMs);
      const remainingMs = deadlineAtMs - this.#clock.nowMs();
      if (leader === undefined && this.#leaderlessTooLong()) {
        this.#leaderless += 1;
        return {
          ok: false,
          requestId,
          code: CoreErrorCode.noLeader,
          message:
            'Retry the request on another node: this node has known no leader for ' +
            `${String(Math.round(this.#clock.nowMs() - (this.#leaderlessSinceMs ?? 0)))} ms, so it ` +
            'cannot reach a quorum of the cluster (or the cluster lost its quorum)',
        };
      }
      if (leader === undefined && remainingMs > 0) {
        // NB: a timer may fire a fraction of a millisecond early: wait out the rest.
        continue;
      }
      if (leader === undefined || remainingMs <= 0) {
        this.#deadlinesPassed += 1;
        return notActive(
          requestId,
          'Retry the request: no active node answered before its deadline (the cluster may be electing a leader)',
        );
      }
      const outcome = await this.#try(leader, sent, remainingMs);
      if (outcome.kind === 'answer') {
        return outcome.response;
      }
      if (outcome.kind === 'refused') {
        this.#forwardsRefused += 1;
        return notActive(
          requestId,
          `Retry the request on another node: the active node refused this standby's forward (${outcome.error.reason})`,
        );
      }
      tried = leader;
    }
  }

  /** Counters since the forwarder was made. */
  stats(): ForwarderStats {
    return {
      requests: this.#requests,
      tries: this.#tries,
      triesFailed: this.#triesFailed,
      deadlinesPassed: this.#deadlinesPassed,
      forwardsRefused: this.#forwardsRefused,
      leaderless: this.#leaderless,
    };
  }

  /** When a waiting request is answered NO_LEADER, or undefined while a leader is known. */
  #leaderlessAnswerAtMs(): number | undefined {
    const since = this.#leaderlessSinceMs;
    const bound = this.#options.leaderlessAnswerMs;
    return since === undefined || bound === undefined ? undefined : since + bound;
  }

  /** How long a wait may last: to the deadline, or to the NO_LEADER answer if that is sooner. */
  #waitBoundMs(deadlineAtMs: number): number {
    const atMs = Math.min(deadlineAtMs, this.#leaderlessAnswerAtMs() ?? Number.POSITIVE_INFINITY);
    return Math.max(0, atMs - this.#clock.nowMs());
  }

  #leaderlessTooLong(): boolean {
    const at = this.#leaderlessAnswerAtMs();
    return at !== undefined && this.#clock.nowMs() >= at;
  }

  #requestIdOf(request: CoreRequest): string {
    const given = request.requestId;
    if (given !== undefined && forwardRequestIdPattern.test(given)) {
      return given;
    }
    const made = this.#options.newRequestId?.() ?? randomUUID();
    assert(forwardRequestIdPattern.test(made), 'newRequestId() made an id the leader refuses');
    return made;
  }

  async #try(leader: LeaderChange, request: CoreRequest, remainingMs: number): Promise<TryOutcome> {
    this.#tries += 1;
    let response: CoreResponse;
    try {
      response =
        leader.leaderId === this.#options.selfId
          ? await this.#options.local(request)
          : await this.#options.client.forward(leader.leaderId, request, {
              deadlineMs: remainingMs,
            });
    } catch (error) {
      if (isRetryableForwardError(error)) {
        this.#triesFailed += 1;
        return { kind: 'retry' };
      }
      if (error instanceof ForwardError) {
        return { kind: 'refused', error };
      }
      throw error;
    }
    if (!response.ok && retryCodes.has(response.code)) {
      this.#triesFailed += 1;
      return { kind: 'retry' };
    }
    return { kind: 'answer', response };
  }

  /**
   * The leader to try next, or undefined once the deadline passes first. Before any try: the
   * current leader, or the first one published. After a failed try: a later change at once,
   * or, once the retry backoff has passed, whoever leads then (maybe the same node).
   */
  #nextLeader(
    tried: LeaderChange | undefined,
    attempt: number,
    deadlineAtMs: number,
  ): Promise<LeaderChange | undefined> {
    const { leaders } = this.#options;
    const isNew = (change: LeaderChange | undefined): change is LeaderChange =>
      change !== undefined &&
      change.leaderId !== 0 &&
      (tried === undefined || change.index > tried.index);
    const current = leaders.current();
    if (isNew(current)) {
      return Promise.resolve(current);
    }
    if (this.#leaderlessTooLong()) {
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      let settled = false;
      const timers: { cancel(): void }[] = [];
      const settle = (leader: LeaderChange | undefined): void => {
        if (!settled) {
          settled = true;
          unsubscribe();
          timers.forEach((timer) => {
            timer.cancel();
          });
          resolve(leader);
        }
      };
      const unsubscribe = leaders.onChange((change) => {
        const gone = change.leaderId === 0;
        if (isNew(change)) {
          settle(change);
        } else if (gone) {
          // The leader went while this request waited: answer once that has lasted too long.
          timers.push(
            this.#timer.setTimer(this.#waitBoundMs(deadlineAtMs), () => {
              settle(undefined);
            }),
          );
        }
      });
      const remainingMs = Math.max(0, deadlineAtMs - this.#clock.nowMs());
      timers.push(
        this.#timer.setTimer(this.#waitBoundMs(deadlineAtMs), () => {
          settle(undefined);
        }),
      );
      if (tried !== undefined) {
        const backoff = this.#options.retryBackoff ?? retryBackoffDefault;
        const randomInt = this.#options.randomInt ?? clusterRandomInt;
        const delayMs = reconnectDelayMs(backoff, attempt - 1, randomInt);
        timers.push(
          this.#timer.setTimer(Math.min(delayMs, remainingMs), () => {
            const again = leaders.current();
            if (again !== undefined && again.leaderId !== 0) {
              settle(again);
            }
          }),
        );
      }
    });
  }
}

function notActive(requestId: string, message: string): CoreResponse {
  return { ok: false, requestId, code: CoreErrorCode.notActive, message };
}
