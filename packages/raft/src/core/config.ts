/**
 * Configuration of one Raft node. Every limit is a named field with its unit (STYLE.md §3.8);
 * {@link validateConfig} checks them all before a node is built.
 */
import { RaftError, RaftErrorCode } from './errors.ts';
import type { LogStorage } from './storage.ts';
import type { LogIndex, NodeId } from './types.ts';

/** How ReadIndex confirms leadership. */
export const ReadOnlyOption = {
  /** A heartbeat round to a quorum (Raft thesis §6.4). The default. */
  safe: 'safe',
  /** The leader lease of CheckQuorum; relies on bounded clock drift (thesis §6.4.1). Opt-in. */
  leaseBased: 'leaseBased',
} as const;
/** Union of {@link ReadOnlyOption} values. */
export type ReadOnlyOption = (typeof ReadOnlyOption)[keyof typeof ReadOnlyOption];

/** Receives the core's diagnostic events. Never given secret data: entries are not logged. */
export interface RaftLogger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything. */
export const silentLogger: RaftLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
};

/** Everything a node needs; see {@link defaultConfig} for the defaults. */
export interface RaftConfig {
  /** This node's id; a positive safe integer. */
  readonly id: NodeId;
  /** The log this node reads: entries since the last snapshot, in memory. */
  readonly storage: LogStorage;
  /** Ticks without a leader before a follower campaigns; randomized up to twice this. */
  readonly electionTimeoutTicks: number;
  /** Ticks between a leader's heartbeats; less than electionTimeoutTicks. */
  readonly heartbeatIntervalTicks: number;
  /** Run PreVote before a real election (thesis §9.6). */
  readonly preVote: boolean;
  /** A leader that has not heard from a quorum in an election timeout steps down. */
  readonly checkQuorum: boolean;
  /** How linearizable reads confirm leadership; leaseBased requires checkQuorum. */
  readonly readOnlyOption: ReadOnlyOption;
  /** Payload bytes of entries in one append message (at least one entry is always sent). */
  readonly messageSizeBytesMax: number;
  /** Entries accepted in one append message from a peer; larger batches are rejected. */
  readonly messageEntriesMax: number;
  /** Append messages in flight to one follower in the replicate state. */
  readonly inflightMsgsMax: number;
  /** Payload bytes in flight to one follower in the replicate state. */
  readonly inflightSizeBytesMax: number;
  /** Payload bytes the leader accepts but has not committed; proposals beyond are dropped. */
  readonly uncommittedSizeBytesMax: number;
  /** Payload bytes of committed entries handed out in one ready batch. */
  readonly committedSizeBytesPerReadyMax: number;
  /** Bytes of snapshot data in one InstallSnapshot chunk. */
  readonly snapshotChunkSizeBytes: number;
  /** Log entries after the last snapshot beyond which the node asks for a snapshot. */
  readonly logEntriesMax: number;
  /** Log payload bytes after the last snapshot beyond which the node asks for a snapshot. */
  readonly logSizeBytesMax: number;
  /**
   * Bound on how much faster or slower one node's tick runs than another's, in percent. A
   * leader's read lease lasts electionTimeoutTicks * (100 - p) / (100 + p) ticks from the send
   * of the heartbeat round a quorum answered, so it ends before any follower's lease can.
   */
  readonly clockDriftMaxPercent: number;
  /** A learner is promoted only when it is at most this many entries behind the commit. */
  readonly promotionLagEntriesMax: number;
  /** The index the state machine has applied at start; entries after it are replayed. */
  readonly appliedIndex: LogIndex;
  /** Returns an integer in [0, maxExclusive): the injected source of election jitter. */
  readonly randomInt: (maxExclusive: number) => number;
  readonly logger: RaftLogger;
}

/** The defaults of every optional field. */
export const defaultConfig = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  preVote: true,
  checkQuorum: true,
  readOnlyOption: ReadOnlyOption.safe,
  messageSizeBytesMax: 1024 * 1024,
  messageEntriesMax: 10_000,
  inflightMsgsMax: 256,
  inflightSizeBytesMax: 64 * 1024 * 1024,
  uncommittedSizeBytesMax: 64 * 1024 * 1024,
  committedSizeBytesPerReadyMax: 64 * 1024 * 1024,
  snapshotChunkSizeBytes: 1024 * 1024,
  logEntriesMax: 100_000,
  logSizeBytesMax: 256 * 1024 * 1024,
  clockDriftMaxPercent: 10,
  promotionLagEntriesMax: 1000,
  appliedIndex: 0 as LogIndex,
  logger: silentLogger,
} as const;

/** The fields a caller must give; the rest default. */
export type RaftConfigInput = Pick<RaftConfig, 'id' | 'storage' | 'randomInt'> &
  Partial<Omit<RaftConfig, 'id' | 'storage' | 'randomInt'>>;

/** How many ticks a leader's read lease lasts (see clockDriftMaxPercent). */
export function leaseTicks(config: RaftConfig): number {
  const p = config.clockDriftMaxPercent;
  return Math.floor((config.electionTimeoutTicks * (100 - p)) / (100 + p));
}

/** Fills in defaults and validates; throws COFFER_RAFT_INVALID_CONFIG naming the bad field. */
export function makeConfig(input: RaftConfigInput): RaftConfig {
  const config: RaftConfig = { ...defaultConfig, ...input };
  validateConfig(config);
  return config;
}

function invalid(field: string, message: string): RaftError {
  return new RaftError(RaftErrorCode.invalidConfig, `Set config field "${field}": ${message}`);
}

function describeValue(value: unknown): string {
  return typeof value === 'number' ? String(value) : typeof value;
}

function requirePositiveInteger(config: RaftConfig, field: keyof RaftConfig): void {
  const value = config[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw invalid(field, `must be a positive integer, got ${describeValue(value)}`);
  }
}

const positiveIntegerFields = [
  'id',
  'electionTimeoutTicks',
  'heartbeatIntervalTicks',
  'messageSizeBytesMax',
  'messageEntriesMax',
  'inflightMsgsMax',
  'inflightSizeBytesMax',
  'uncommittedSizeBytesMax',
  'committedSizeBytesPerReadyMax',
  'snapshotChunkSizeBytes',
  'logEntriesMax',
  'logSizeBytesMax',
] as const satisfies readonly (keyof RaftConfig)[];

const readOnlyOptions = new Set<unknown>(Object.values(ReadOnlyOption));

/** Checks the fields that are not numbers: flags, the read option and the injected ports. */
function requireKinds(config: RaftConfig): void {
  for (const field of ['preVote', 'checkQuorum'] as const) {
    const value: unknown = config[field];
    if (typeof value !== 'boolean') {
      throw invalid(field, `must be true or false, got ${describeValue(value)}`);
    }
  }
  const option: unknown = config.readOnlyOption;
  if (!readOnlyOptions.has(option)) {
    const got = typeof option === 'string' ? `"${option}"` : describeValue(option);
    throw invalid('readOnlyOption', `must be "safe" or "leaseBased", got ${got}`);
  }
  for (const field of ['storage', 'logger'] as const) {
    const value: unknown = config[field];
    if (typeof value !== 'object' || value === null) {
      throw invalid(field, `must be an object, got ${describeValue(value)}`);
    }
  }
}

/** Throws COFFER_RAFT_INVALID_CONFIG when a field is missing, out of range or inconsistent. */
export function validateConfig(config: RaftConfig): void {
  requireKinds(config);
  for (const field of positiveIntegerFields) {
    requirePositiveInteger(config, field);
  }
  if (config.electionTimeoutTicks <= config.heartbeatIntervalTicks) {
    throw invalid(
      'electionTimeoutTicks',
      `must exceed heartbeatIntervalTicks (${config.heartbeatIntervalTicks}), got ${config.electionTimeoutTicks}`,
    );
  }
  if (config.readOnlyOption === ReadOnlyOption.leaseBased && !config.checkQuorum) {
    throw invalid('readOnlyOption', 'lease-based reads need checkQuorum set to true');
  }
  const drift = config.clockDriftMaxPercent;
  if (!Number.isSafeInteger(drift) || drift < 0 || drift >= 100) {
    throw invalid(
      'clockDriftMaxPercent',
      `must be an integer in [0, 100), got ${describeValue(drift)}`,
    );
  }
  if (!Number.isSafeInteger(config.promotionLagEntriesMax) || config.promotionLagEntriesMax < 0) {
    throw invalid(
      'promotionLagEntriesMax',
      `must be a non-negative integer, got ${describeValue(config.promotionLagEntriesMax)}`,
    );
  }
  if (!Number.isSafeInteger(config.appliedIndex) || config.appliedIndex < 0) {
    throw invalid('appliedIndex', `must be a non-negative integer, got ${config.appliedIndex}`);
  }
  if (typeof config.randomInt !== 'function') {
    throw invalid('randomInt', 'must be a function returning an integer in [0, max)');
  }
}
