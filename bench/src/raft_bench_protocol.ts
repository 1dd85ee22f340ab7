/**
 * Messages between the main thread of `npm run bench:raft` and its node threads.
 */
import type { MessagePort } from 'node:worker_threads';

/** What a node thread is started with (its workerData). */
export interface NodeSetup {
  readonly id: number;
  readonly voters: readonly number[];
  readonly directory: string;
  /** One port per peer, by peer id. */
  readonly peers: Readonly<Record<number, MessagePort>>;
}

/** What one node thread measured in a phase. */
export interface PhaseReport {
  /** Commit latencies in ms, of proposals made by this node's proposers. */
  readonly latencies: Float64Array;
  /** Refused proposals by error code. */
  readonly failures: Readonly<Record<string, number>>;
  /** Synced log writes (each one fsync). */
  readonly syncs: number;
  readonly seconds: number;
}

/** From the main thread to a node thread. */
export type ToNode =
  | { readonly kind: 'status' }
  | {
      readonly kind: 'phase';
      readonly proposers: number;
      readonly valueBytes: number;
      readonly warmupMs: number;
      readonly measureMs: number;
    }
  | { readonly kind: 'stop' };

/** From a node thread to the main thread. */
export type ToMain =
  | { readonly kind: 'started' }
  | {
      readonly kind: 'status';
      readonly leader: boolean;
      readonly applied: number;
      /** The node's current term: each election is a new term. */
      readonly term: number;
    }
  | { readonly kind: 'phaseDone'; readonly report: PhaseReport }
  | { readonly kind: 'stopped' };
