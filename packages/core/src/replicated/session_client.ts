/**
 * SessionClient: the proposing side of exactly-once client sessions (Raft thesis §6.3), for
 * the writes a node proposes as the active node. It registers a session lazily (on the first
 * write), numbers each write, and sends it inside a session request (storage's envelope) with
 * ackedBelow = the lowest sequence still unanswered, so the state keeps exactly the responses a
 * retry could still ask for.
 *
 * When a proposal's outcome is unknown (COFFER_RAFT_TIMEOUT, or COFFER_RAFT_PROPOSAL_DROPPED
 * after a leader change) and this node leads again, the write is resent with the SAME sequence:
 * the state applies it once and answers the retry with the original result. A refusal that
 * says nothing was proposed (COFFER_RAFT_NOT_LEADER, ...) is final here. When the session
 * expired, the state applied nothing, so the write is sent once more in a new session.
 *
 * Time: each entry carries this node's wall clock (ms since the epoch) as the leader's stamp;
 * replicas never read their own clock for sessions.
 */
import { RaftErrorCode } from '@coffer/raft';
import type { RaftNode } from '@coffer/raft/node';
import {
  StorageErrorCode,
  decodeApplyResult,
  encodeSessionRegister,
  encodeSessionRequest,
  type ApplyResult,
  type StateCommand,
} from '@coffer/storage';

import { CoreError, CoreErrorCode } from '../errors.ts';

/**
 * Writes in flight per session; more wait their turn in order. Below the state's 64 kept
 * responses per client, so a session never outruns its own window (TOO_MANY_OUTSTANDING).
 */
export const sessionWritesInFlightMax = 48;

/** Writes that may wait for a slot per session; more are refused (WRITE_REFUSED, retry later). */
export const sessionWritesQueuedMax = 4096;

/** Attempts per proposal whose outcome stays unknown (one send and two retries). */
const attemptsMax = 3;

/** Refusals after which the entry may still commit: resend the same sequence. */
const unknownOutcome: ReadonlySet<string> = new Set([
  RaftErrorCode.timeout,
  RaftErrorCode.proposalDropped,
]);

interface Session {
  readonly clientId: number;
  nextSequence: number;
  /** Sequences sent and not answered yet: their responses must be kept. */
  readonly unanswered: Set<number>;
}

/** What a SessionClient works with. */
export interface SessionClientOptions {
  readonly node: RaftNode;
  /** Wall-clock time in ms since the epoch: the stamp of each session entry. */
  readonly nowMs: () => number;
}

/** Proposes state commands exactly once through a client session. */
export class SessionClient {
  readonly #options: SessionClientOptions;
  #session: Session | undefined;
  #registering: Promise<Session> | undefined;
  #inFlight = 0;

  /** Writes in flight or queued on this session: a pool sends the next write to the least busy. */
  get load(): number {
    return this.#inFlight + this.#waiting.length;
  }
  readonly #waiting: (() => void)[] = [];

  constructor(options: SessionClientOptions) {
    this.#options = options;
  }

  /**
   * Proposes command in this node's session and resolves with the state's result, applied at
   * most once however often it was resent. Throws COFFER_CORE_NOT_ACTIVE when Raft refused or
   * lost it for good, COFFER_CORE_WRITE_REFUSED when the result is unreadable.
   */
  async propose(command: StateCommand, what: string): Promise<ApplyResult> {
    if (this.#inFlight >= sessionWritesInFlightMax) {
      if (this.#waiting.length >= sessionWritesQueuedMax) {
        throw new CoreError(
          CoreErrorCode.writeRefused,
          `Retry later: ${what} was not sent, ${sessionWritesQueuedMax} writes already wait on this node`,
        );
      }
      // NB: a finishing write hands its slot over (the count stays), so none can jump the queue.
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#inFlight++;
    }
    try {
      return await this.#proposeNow(command, what);
    } finally {
      const next = this.#waiting.shift();
      if (next === undefined) {
        this.#inFlight--;
      } else {
        next();
      }
    }
  }

  async #proposeNow(command: StateCommand, what: string): Promise<ApplyResult> {
    const session = await this.#ensureSession(what);
    const result = await this.#send(session, command, what);
    if (result.ok || result.code !== StorageErrorCode.sessionExpired) {
      return result;
    }
    // Not applied: a new session may send it once more, under a new sequence.
    if (this.#session === session) {
      this.#session = undefined;
    }
    return this.#send(await this.#ensureSession(what), command, what);
  }

  async #send(session: Session, command: StateCommand, what: string): Promise<ApplyResult> {
    const sequence = session.nextSequence++;
    session.unanswered.add(sequence);
    try {
      return await this.#attempt(what, () =>
        encodeSessionRequest({
          clientId: session.clientId,
          sequence,
          ackedBelow: Math.min(...session.unanswered),
          stampMs: this.#stampMs(),
          command,
        }),
      );
    } finally {
      session.unanswered.delete(sequence);
    }
  }

  #ensureSession(what: string): Promise<Session> {
    if (this.#session !== undefined) {
      return Promise.resolve(this.#session);
    }
    const registering = (this.#registering ??= (async () => {
      try {
        const result = await this.#attempt(what, () => encodeSessionRegister(this.#stampMs()));
        if (!result.ok || result.outcome !== 'registered') {
          throw new CoreError(
            CoreErrorCode.writeRefused,
            `Cannot ${what}: the replicated state did not register a client session (${result.ok ? result.outcome : result.code})`,
          );
        }
        const session = {
          clientId: result.clientId,
          nextSequence: 0,
          unanswered: new Set<number>(),
        };
        this.#session = session;
        return session;
      } finally {
        this.#registering = undefined;
      }
    })());
    return registering;
  }

  /** Proposes the data encode() builds, resending while the outcome is unknown and we lead. */
  async #attempt(what: string, encode: () => Uint8Array): Promise<ApplyResult> {
    const { node } = this.#options;
    for (let attempt = 1; ; attempt++) {
      const outcome = await node.propose(encode());
      if (outcome.ok) {
        const result = decodeApplyResult(outcome.result);
        if (result === undefined) {
          throw new CoreError(
            CoreErrorCode.writeRefused,
            `Cannot ${what}: the replicated state gave an unreadable result`,
          );
        }
        return result;
      }
      const leading = node.raw.status().softState.role === 'leader';
      if (!unknownOutcome.has(outcome.code) || !leading || attempt >= attemptsMax) {
        throw new CoreError(CoreErrorCode.notActive, `Cannot ${what}: ${outcome.message}`);
      }
    }
  }

  /** The leader's stamp: this node's wall clock in whole ms. */
  #stampMs(): number {
    return Math.max(0, Math.floor(this.#options.nowMs()));
  }
}
