/**
 * Public surface of @coffer/storage. This is the package's only barrel: explicit named re-exports,
 * nothing else (STYLE.md 1.3, 2.3).
 */
export { StorageError, StorageErrorCode } from './errors.ts';
export type { StorageErrorOptions } from './errors.ts';
export { LevelLogStore, type LevelLogStoreOptions } from './level_log_store.ts';
export type { LevelDatabase, LevelOperation, LevelRecord } from './level_adapter.ts';
