/**
 * What a node tells the metrics endpoint about itself: seal state, Raft progress and audit
 * device failures. Counts and flags only, never a path, a key or a token.
 */

/** Raft progress of a running node. */
export interface RaftMetrics {
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The leader this node knows of (0: none). */
  readonly leaderId: number;
}

/** A node's gauges at one instant. */
export interface NodeMetrics {
  readonly sealed: boolean;
  readonly initialized: boolean;
  /** This node is the active node (unsealed Raft leader). */
  readonly active: boolean;
  /** Undefined while Raft does not run (sealed). */
  readonly raft: RaftMetrics | undefined;
  /** Lines the audit devices failed to record since this node unsealed. */
  readonly auditFailures: number;
  /** Leader changes this node saw since it opened (a running total). */
  readonly leaderChanges: number;
  /** Requests this node, as a standby, forwarded to the active node (a running total). */
  readonly forwardedRequests: number;
  /** Reads served by this node as a standby, after a ReadIndex round with the leader. */
  readonly standbyReads: number;
}
