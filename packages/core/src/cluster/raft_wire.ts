/**
 * What the cluster channel in @coffer/api needs of Raft to carry it between nodes: the Transport
 * port, messages as opaque wire bytes, and the sender and receiver of a message (to check them
 * against the peer's certificate). The API may not import @coffer/raft itself (STYLE.md 2.1),
 * so core hands these over.
 */
import { MessageType, type Message } from '@coffer/raft';
import { decodeMessage, encodeMessage, wireVersion, type Transport } from '@coffer/raft/node';

export type { Transport };
/** A Raft message, opaque to the API. */
export type RaftMessage = Message;

/** The version of the message encoding; peers with another version do not talk. */
export const raftWireVersion: number = wireVersion;

/** The wire bytes of one message. */
export function encodeRaftMessage(message: RaftMessage): Uint8Array {
  return encodeMessage(message);
}

/** One message from wire bytes, or why the bytes are not one. */
export function decodeRaftMessage(
  bytes: Uint8Array,
):
  | { readonly ok: true; readonly message: RaftMessage }
  | { readonly ok: false; readonly reason: string } {
  const decoded = decodeMessage(bytes);
  return decoded.ok
    ? { ok: true, message: decoded.value }
    : { ok: false, reason: `${decoded.code}: ${decoded.message}` };
}

/** The node ids a message goes from and to. */
export function raftMessageRoute(message: RaftMessage): {
  readonly from: number;
  readonly to: number;
} {
  return { from: message.from, to: message.to };
}

/** Whether a message is an append or a snapshot piece (sent after votes and heartbeats). */
export function isBulkRaftMessage(message: RaftMessage): boolean {
  return message.type === MessageType.append || message.type === MessageType.snapshot;
}
