/**
 * The Prometheus metrics of one server: request counts and latencies from every API adapter,
 * and, collected on each scrape, the node's seal state, Raft progress, audit failures and the
 * event-loop delay.
 *
 * Everything lives in this instance's own prom-client Registry, never the global one, so two
 * servers in one process (tests) do not share series. This is the one file that imports
 * prom-client, a CommonJS package (STYLE.md 4.2).
 *
 * Invariant: the request series carry exactly the labels operation, mount and code, each
 * bounded by metrics_labels.ts; no path, token or value ever becomes a label or a sample.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import { ApiError, ApiErrorCode } from '../errors.ts';
import { codeLabel, MountLabels, mountLabelsMaxDefault, operationLabel } from './metrics_labels.ts';

/** Raft progress of a running node. */
export interface MetricsRaftSnapshot {
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The leader the node knows of (0: none). */
  readonly leaderId: number;
}

/** A node's gauges at one instant: flags and counts only. */
export interface MetricsSnapshot {
  readonly sealed: boolean;
  readonly initialized: boolean;
  /** The node is the active node (unsealed Raft leader). */
  readonly active: boolean;
  /** Undefined while Raft does not run (sealed). */
  readonly raft: MetricsRaftSnapshot | undefined;
  /** Lines the audit devices failed to record (a running total). */
  readonly auditFailures: number;
  /** Leader changes the node saw (a running total). */
  readonly leaderChanges: number;
  /** Requests the node forwarded to the active node as a standby (a running total). */
  readonly forwardedRequests: number;
  /** Reads the node served itself as a standby, after a ReadIndex round (a running total). */
  readonly standbyReads: number;
}

/**
 * The port the metrics read a node through; the server runtime implements it over CofferNode
 * (whose `metrics()` returns this shape). Called once per scrape; must not throw.
 */
export interface MetricsSource {
  snapshot(): MetricsSnapshot;
}

/** One served or refused request, as an adapter reports it. */
export interface RequestObservation {
  /** The core operation (`read`, `update`, ...); anything else is counted as "other". */
  readonly operation: string;
  /** The mount path that served the request (`secret/`); undefined when none did. */
  readonly mount?: string | undefined;
  /** "ok", or the COFFER_* code of the refusal. */
  readonly code: string;
  /** How long the request took, in seconds. */
  readonly seconds: number;
  /** Served from the node's applied state without a read point (a stale read). */
  readonly stale?: boolean | undefined;
}

/** Options of {@link ApiMetrics}. */
export interface ApiMetricsOptions {
  /** Where the node gauges come from; without it only request and event-loop series exist. */
  readonly source?: MetricsSource;
  /** Distinct mount labels kept before new mounts count as "other". Default 256. */
  readonly mountLabelsMax?: number;
  /** Sampling resolution of the event-loop delay monitor. Default 20 ms. */
  readonly eventLoopResolutionMs?: number;
}

const requestLabels = ['operation', 'mount', 'code'] as const;
const requestBuckets = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const nsPerSecond = 1e9;

/** The node gauges, one per field of {@link MetricsSnapshot}. */
interface NodeGauges {
  readonly sealed: Gauge;
  readonly initialized: Gauge;
  readonly active: Gauge;
  readonly raftTerm: Gauge;
  readonly raftCommitIndex: Gauge;
  readonly raftAppliedIndex: Gauge;
  readonly raftLeaderId: Gauge;
  readonly auditFailures: Counter;
  readonly leaderChanges: Counter;
  readonly forwardedRequests: Counter;
  readonly standbyReads: Counter;
}

/** Metrics of one server over its own registry. Call `close()` when the server stops. */
export class ApiMetrics {
  readonly #registry = new Registry();
  readonly #mounts: MountLabels;
  readonly #source: MetricsSource | undefined;
  readonly #requests: Counter<(typeof requestLabels)[number]>;
  readonly #durations: Histogram<(typeof requestLabels)[number]>;
  readonly #staleReads: Counter<(typeof requestLabels)[number]>;
  readonly #node: NodeGauges;
  readonly #eventLoopDelay: Gauge<'quantile'>;
  readonly #eventLoop: IntervalHistogram;

  constructor(options: ApiMetricsOptions = {}) {
    this.#mounts = new MountLabels(options.mountLabelsMax ?? mountLabelsMaxDefault);
    this.#source = options.source;
    const registers = [this.#registry];
    this.#requests = new Counter({
      name: 'coffer_requests_total',
      help: 'Requests handled by the router, by operation, mount and code',
      labelNames: requestLabels,
      registers,
    });
    this.#durations = new Histogram({
      name: 'coffer_request_duration_seconds',
      help: 'Time from receiving a request to its answer, by operation, mount and code',
      labelNames: requestLabels,
      buckets: requestBuckets,
      registers,
    });
    this.#staleReads = new Counter({
      name: 'coffer_stale_reads_total',
      help: "Reads served from a node's applied state without a ReadIndex round (stale reads), by operation, mount and code",
      labelNames: requestLabels,
      registers,
    });
    this.#node = nodeGauges(this.#registry);
    this.#eventLoopDelay = new Gauge({
      name: 'coffer_event_loop_delay_seconds',
      help: 'Event-loop delay since the previous scrape, by quantile',
      labelNames: ['quantile'],
      registers,
    });
    this.#eventLoop = monitorEventLoopDelay({ resolution: options.eventLoopResolutionMs ?? 20 });
    this.#eventLoop.enable();
  }

  /** The Content-Type of {@link render}'s text (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** Counts one request. Label values outside the bounded sets count as "other". */
  observeRequest(observation: RequestObservation): void {
    const labels = {
      operation: operationLabel(observation.operation),
      mount: this.#mounts.label(observation.mount),
      code: codeLabel(observation.code),
    };
    this.#requests.inc(labels);
    if (observation.stale === true) {
      this.#staleReads.inc(labels);
    }
    const seconds = observation.seconds;
    this.#durations.observe(labels, Number.isFinite(seconds) && seconds > 0 ? seconds : 0);
  }

  /**
   * The metrics in Prometheus text format, with the node gauges read now. Throws ApiError
   * COFFER_API_METRICS_UNAVAILABLE when the source fails.
   */
  async render(): Promise<string> {
    this.#collectNode();
    this.#collectEventLoop();
    return this.#registry.metrics();
  }

  /** Stops the event-loop monitor. */
  close(): void {
    this.#eventLoop.disable();
  }

  #collectNode(): void {
    if (this.#source === undefined) {
      return;
    }
    let snapshot: MetricsSnapshot;
    try {
      snapshot = this.#source.snapshot();
    } catch (error) {
      throw new ApiError(
        ApiErrorCode.metricsUnavailable,
        'Retry the scrape: the node could not report its state',
        { cause: error },
      );
    }
    setNodeGauges(this.#node, snapshot);
  }

  #collectEventLoop(): void {
    const histogram = this.#eventLoop;
    // NB: before the first sample the percentiles are 0 and `min` is a huge sentinel.
    const sampled = histogram.count > 0;
    this.#eventLoopDelay.set(
      { quantile: '0.5' },
      sampled ? histogram.percentile(50) / nsPerSecond : 0,
    );
    this.#eventLoopDelay.set(
      { quantile: '0.99' },
      sampled ? histogram.percentile(99) / nsPerSecond : 0,
    );
    histogram.reset();
  }
}

function nodeGauges(registry: Registry): NodeGauges {
  const registers = [registry];
  const gauge = (name: string, help: string): Gauge => new Gauge({ name, help, registers });
  return {
    sealed: gauge('coffer_sealed', '1 when the node is sealed'),
    initialized: gauge('coffer_initialized', '1 when the cluster is initialized'),
    active: gauge('coffer_active', '1 when the node is the active node'),
    raftTerm: gauge('coffer_raft_term', 'The Raft term the node is in'),
    raftCommitIndex: gauge('coffer_raft_commit_index', 'The highest log index known committed'),
    raftAppliedIndex: gauge('coffer_raft_applied_index', 'The highest log index applied'),
    raftLeaderId: gauge('coffer_raft_leader_id', 'The Raft leader the node knows of (0: none)'),
    auditFailures: new Counter({
      name: 'coffer_audit_failures_total',
      help: 'Lines the audit devices failed to record',
      registers,
    }),
    leaderChanges: new Counter({
      name: 'coffer_raft_leader_changes_total',
      help: 'Leader changes the node saw',
      registers,
    }),
    forwardedRequests: new Counter({
      name: 'coffer_forwarded_requests_total',
      help: 'Requests the node forwarded to the active node as a standby',
      registers,
    }),
    standbyReads: new Counter({
      name: 'coffer_standby_reads_total',
      help: 'Reads the node served itself as a standby, after a ReadIndex round with the leader',
      registers,
    }),
  };
}

function setNodeGauges(gauges: NodeGauges, snapshot: MetricsSnapshot): void {
  gauges.sealed.set(snapshot.sealed ? 1 : 0);
  gauges.initialized.set(snapshot.initialized ? 1 : 0);
  gauges.active.set(snapshot.active ? 1 : 0);
  const raft = snapshot.raft;
  const raftGauges = [
    [gauges.raftTerm, raft?.term],
    [gauges.raftCommitIndex, raft?.commitIndex],
    [gauges.raftAppliedIndex, raft?.appliedIndex],
    [gauges.raftLeaderId, raft?.leaderId],
  ] as const;
  for (const [gauge, value] of raftGauges) {
    // NB: a sealed node runs no Raft; its Raft gauges read 0 rather than stale values.
    gauge.set(value !== undefined && Number.isFinite(value) ? value : 0);
  }
  // NB: the source keeps the running totals; the counters mirror them on each scrape.
  const totals = [
    [gauges.auditFailures, snapshot.auditFailures],
    [gauges.leaderChanges, snapshot.leaderChanges],
    [gauges.forwardedRequests, snapshot.forwardedRequests],
    [gauges.standbyReads, snapshot.standbyReads],
  ] as const;
  for (const [counter, total] of totals) {
    counter.reset();
    counter.inc(Number.isFinite(total) && total > 0 ? total : 0);
  }
}
