/**
 * @coffer/raft/node: what a driver of the Raft core needs beside it: the wire codec and the
 * ports for durable log, state machine, transport and clock.
 */
export {
  decodeEntries,
  decodeMessage,
  encodeEntries,
  encodeMessage,
  wireVersion,
  type DecodeResult,
} from './node/message_codec.ts';
export type {
  DriverClock,
  DurableLog,
  PersistBatch,
  SaveSnapshotOutcome,
  SnapshotSource,
  SnapshotStream,
  SnapshotToSave,
  StateMachine,
  Transport,
} from './node/ports.ts';
export {
  collectSnapshotStream,
  framedSnapshot,
  piecesOf,
  readFramedSnapshot,
  snapshotStreamOf,
} from './node/snapshot_stream.ts';
export { systemClock } from './node/system_clock.ts';
export {
  RaftNode,
  type ProposalOutcome,
  type RaftNodeOptions,
  type ReadBarrierOptions,
} from './node/raft_node.ts';
export {
  decodeSessionResponse,
  encodeRegister,
  encodeSessionRequest,
  encodeSessionResponse,
  SessionStateMachine,
  SessionStatus,
  type SessionApplication,
  type SessionLimits,
  type SessionRequest,
} from './node/client_sessions.ts';
export { LogWriteChecks, type StagedSnapshot } from './node/log_write_checks.ts';
