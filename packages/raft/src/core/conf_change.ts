/**
 * The encoding of a single-server membership change inside a confChange entry, and how a
 * change transforms a membership. Nine bytes: the change type, then the node id as a
 * big-endian 64-bit float-free integer (two 32-bit halves).
 */
import { asNodeId, ConfChangeType, type ConfChange, type ConfState, type NodeId } from './types.ts';

const typeCodes = [
  ConfChangeType.addVoter,
  ConfChangeType.addLearner,
  ConfChangeType.removeNode,
] as const;
const encodedSizeBytes = 9;

/** Encodes a change for a confChange entry. */
export function encodeConfChange(change: ConfChange): Uint8Array {
  const bytes = new Uint8Array(encodedSizeBytes);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, typeCodes.indexOf(change.type) + 1);
  view.setUint32(1, Math.floor(change.nodeId / 2 ** 32));
  view.setUint32(5, change.nodeId % 2 ** 32);
  return bytes;
}

/** Decodes a change, or returns undefined when the bytes are not a valid change. */
export function decodeConfChange(bytes: Uint8Array): ConfChange | undefined {
  if (bytes.byteLength !== encodedSizeBytes) {
    return undefined;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = typeCodes[view.getUint8(0) - 1];
  const nodeId = view.getUint32(1) * 2 ** 32 + view.getUint32(5);
  if (type === undefined || !Number.isSafeInteger(nodeId) || nodeId <= 0) {
    return undefined;
  }
  return { type, nodeId: asNodeId(nodeId) };
}

function without(ids: readonly NodeId[], id: NodeId): NodeId[] {
  return ids.filter((x) => x !== id);
}

function withId(ids: readonly NodeId[], id: NodeId): NodeId[] {
  return ids.includes(id) ? [...ids] : [...ids, id].sort((a, b) => a - b);
}

/** The membership after a change. Changes are idempotent, so a replayed entry is harmless. */
export function applyToConfState(conf: ConfState, change: ConfChange): ConfState {
  const id = change.nodeId;
  switch (change.type) {
    case ConfChangeType.addVoter:
      return { voters: withId(conf.voters, id), learners: without(conf.learners, id) };
    case ConfChangeType.addLearner:
      return { voters: without(conf.voters, id), learners: withId(conf.learners, id) };
    case ConfChangeType.removeNode:
      return { voters: without(conf.voters, id), learners: without(conf.learners, id) };
  }
}
