/**
 * Error codes of @coffer/raft (STYLE.md §5.2). Codes are stable; match on `code`, never on the
 * message.
 */
export const RaftErrorCode = {
  /** A config field is missing or out of range; the message names it. */
  invalidConfig: 'COFFER_RAFT_INVALID_CONFIG',
  /** A peer message is malformed (unknown type, index gap, bad field); it was dropped. */
  invalidMessage: 'COFFER_RAFT_INVALID_MESSAGE',
  /** A peer message exceeds a configured size limit; it was dropped. */
  messageTooLarge: 'COFFER_RAFT_MESSAGE_TOO_LARGE',
  /** This node is not the leader; retry on the leader named by the hint, if any. */
  notLeader: 'COFFER_RAFT_NOT_LEADER',
  /** The leader refused a proposal (uncommitted log full, or a transfer is in progress). */
  proposalDropped: 'COFFER_RAFT_PROPOSAL_DROPPED',
  /** Another membership change is still pending; retry once it has been applied. */
  confChangePending: 'COFFER_RAFT_CONF_CHANGE_PENDING',
  /** A membership change or transfer names a node that cannot take that role. */
  invalidConfChange: 'COFFER_RAFT_INVALID_CONF_CHANGE',
  /** A log read or write named an index outside the log (compacted or not yet written). */
  logUnavailable: 'COFFER_RAFT_LOG_UNAVAILABLE',
  /** Stored log data failed validation (gap, term regression, bad snapshot). */
  logCorrupt: 'COFFER_RAFT_LOG_CORRUPT',
  /**
   * The node has stopped, or failed to persist and stopped itself; use another node. The outcome
   * of a proposal in flight is unknown: its entry may already be on followers and commit.
   */
  stopped: 'COFFER_RAFT_STOPPED',
  /** No answer in time; the outcome is unknown. Retry with the same session sequence number. */
  timeout: 'COFFER_RAFT_TIMEOUT',
  /** The node's proposal queue is full; back off and retry. */
  busy: 'COFFER_RAFT_BUSY',
} as const;
/** Union of {@link RaftErrorCode} values. */
export type RaftErrorCode = (typeof RaftErrorCode)[keyof typeof RaftErrorCode];

/** An operating failure of the Raft layer, carrying a stable code and an optional cause. */
export class RaftError extends Error {
  readonly code: RaftErrorCode;

  constructor(code: RaftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RaftError';
    this.code = code;
  }
}

/** An expected refusal the caller branches on (STYLE.md §5.1), never thrown. */
export interface RaftRefusal {
  readonly code: RaftErrorCode;
  readonly message: string;
  /** For COFFER_RAFT_NOT_LEADER: the leader this node knows of, or 0 when none. */
  readonly leaderHint?: number;
}

/** The outcome of an operation that may be refused. */
export type RaftResult = { readonly ok: true } | ({ readonly ok: false } & RaftRefusal);

/** The accepted outcome. */
export const accepted: RaftResult = { ok: true };

/** Builds a refusal outcome. */
export function refuse(
  code: RaftErrorCode,
  message: string,
  extra?: { leaderHint: number },
): RaftResult {
  return extra === undefined
    ? { ok: false, code, message }
    : { ok: false, code, message, ...extra };
}
