/**
 * Public surface of @coffer/storage. This is the package's only barrel: explicit named re-exports,
 * nothing else (STYLE.md 1.3, 2.3).
 */
export { StorageError, StorageErrorCode } from './errors.ts';
export type { StorageErrorOptions } from './errors.ts';
export { LevelLogStore, type LevelLogStoreOptions } from './level_log_store.ts';
export type { LevelDatabase, LevelOperation, LevelRecord } from './level_adapter.ts';
export {
  recoverLogMembership,
  type LogMembership,
  type LogRecoveryOptions,
  type LogRecoveryReport,
} from './log_recovery.ts';
export {
  LevelStateStore,
  RestoreStep,
  listLimitDefault,
  listLimitMax,
  type LevelStateStoreOptions,
  type ListOptions,
  type ListPage,
  type RestoreOptions,
  type RestoredState,
  type StateSnapshot,
} from './state/level_state_store.ts';
export type { StateEntry } from './state/state_apply.ts';
export type { StoredValue } from './state/state_record.ts';
export {
  decodeStateCommand,
  encodeStateCommand,
  stateKeyBytesMax,
  stateKeyProblem,
  stateValueBytesMax,
  transactionConditionsMax,
  transactionOperationsMax,
  type DecodedStateCommand,
  type StateCommand,
  type StateCondition,
  type StateOperation,
} from './state/state_command.ts';
export {
  ApplyOutcome,
  decodeApplyResult,
  encodeApplyResult,
  type ApplyResult,
  type SessionRefusalCode,
} from './state/apply_result.ts';
export {
  decodeEntryData,
  encodeSessionRegister,
  encodeSessionRequest,
  sessionEnvelopeTag,
  type DecodedEntryData,
  type SessionRequest,
} from './state/session_envelope.ts';
export { sessionLimitsDefault, type SessionLimits } from './state/session_apply.ts';
export {
  chunkSizeBytesDefault,
  snapshotFormatVersion,
  type SnapshotManifest,
  type SnapshotSectionEntry,
} from './state/snapshot_format.ts';
export type { SnapshotKey } from './state/snapshot_key.ts';
export type { SnapshotOptions, SnapshotSection } from './state/snapshot_writer.ts';
export { verifySnapshot, type VerifiedSnapshot } from './state/snapshot_reader.ts';
export {
  openStateDatabase,
  type StateBatch,
  type StateDatabase,
  type StateDatabaseOptions,
  type ScanOptions,
  type StateReader,
  type StateRecord,
  type StateSnapshotReader,
} from './state/state_database.ts';
