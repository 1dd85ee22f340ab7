/**
 * @coffer/raft/testing: harnesses for tests of the Raft core and of what builds on it.
 */
export {
  InMemoryCluster,
  RecordingStateMachine,
  TestNode,
  type MessageFilter,
  type TestNodeOptions,
  type TestStateMachine,
} from './testing/in_memory_cluster.ts';
export { SeededRandom } from './testing/seeded_random.ts';
export { persistUnstable } from './testing/persist_unstable.ts';
export {
  MemoryDurableLog,
  type MemoryLogImage,
  type StoredSnapshot,
} from './testing/memory_durable_log.ts';
export {
  describeLogStoreConformance,
  type LogStoreFactory,
} from './testing/log_store_conformance.ts';
export { InMemoryNetwork } from './testing/in_memory_transport.ts';
export { ManualClock } from './testing/manual_clock.ts';
export {
  checkOperations,
  describeResult,
  type CheckOptions,
  type CheckResult,
  type Model,
  type Operation,
} from './testing/linearizability.ts';
export {
  kvModel,
  kvUnknownOutput,
  type KvInput,
  type KvOperation,
  type KvOutput,
} from './testing/kv_model.ts';
export {
  startHistoryClients,
  type HistoryClients,
  type HistoryClientsOptions,
} from './testing/history_clients.ts';
