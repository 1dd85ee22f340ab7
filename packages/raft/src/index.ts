/**
 * @coffer/raft: a sans-I/O Raft core in the shape of etcd-io/raft. See README.md.
 */
export { RawNode, type BasicStatus, type Ready } from './core/raw_node.ts';
export { Raft, type CampaignKind } from './core/raft.ts';
export {
  defaultConfig,
  makeConfig,
  ReadOnlyOption,
  silentLogger,
  validateConfig,
  type RaftConfig,
  type RaftConfigInput,
  type RaftLogger,
} from './core/config.ts';
export {
  accepted,
  RaftError,
  RaftErrorCode,
  refuse,
  type RaftRefusal,
  type RaftResult,
} from './core/errors.ts';
export { AssertionError } from './core/assert.ts';
export type { InitialState, LogStorage, SnapshotData } from './core/storage.ts';
export { MemoryStorage } from './core/memory_storage.ts';
export { applyToConfState, decodeConfChange, encodeConfChange } from './core/conf_change.ts';
export { Progress, ProgressState } from './core/progress.ts';
export {
  asIndex,
  asNodeId,
  asTerm,
  ConfChangeType,
  entriesSizeBytes,
  EntryType,
  makeMessage,
  MessageType,
  noNode,
  Role,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type LogIndex,
  type Message,
  type NodeId,
  type ReadState,
  type SnapshotChunk,
  type SnapshotMetadata,
  type SoftState,
  type Term,
} from './core/types.ts';
