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
