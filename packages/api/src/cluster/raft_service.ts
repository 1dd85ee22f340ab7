/**
 * The Raft service of the cluster channel (coffer/cluster/v1/raft.proto) as both ends use it:
 * its one method, typed by hand (cluster protos have no generated types), the metadata a stream
 * opens with, the protocol version, and the codes a refusal carries.
 */
import { loadClusterPackageDefinition } from '@coffer/client';
import type { MethodDefinition } from '@grpc/grpc-js';

import { ApiErrorCode } from '../errors.ts';

/** One batch of Raft messages, each in the Raft wire encoding. */
export interface RaftBatch {
  readonly messages: readonly Uint8Array[];
}

/** The server's reply type; it never sends one, it only accepts and ends the stream. */
export type RaftStreamReply = Record<string, never>;

/**
 * The version of the cluster stream protocol (this service and its metadata). A peer with
 * another version is refused with {@link ClusterErrorCode.protocolMismatch}; so is one whose
 * Raft wire version differs ({@link ClusterMetadataKey.raftWire}).
 */
export const clusterProtocolVersion = 1;

/** The metadata of the cluster channel. */
export const ClusterMetadataKey = {
  /** The caller's {@link clusterProtocolVersion}, decimal. */
  protocol: 'coffer-cluster-protocol',
  /** The caller's Raft wire version (raftWireVersion), decimal. */
  raftWire: 'coffer-raft-wire',
  /** The caller's node id, decimal; its certificate must name the same node. */
  node: 'coffer-cluster-node',
  /** On a refusal, the stable COFFER_* code (as on the API port). */
  errorCode: 'coffer-error-code',
} as const;

/** Codes of the cluster channel's refusals (ApiErrorCode, docs/errors.md). */
export const ClusterErrorCode = {
  protocolMismatch: ApiErrorCode.clusterProtocolMismatch,
  peerRefused: ApiErrorCode.clusterPeerRefused,
  invalidMessage: ApiErrorCode.clusterInvalidMessage,
} as const;

/** The union of the cluster channel's refusal codes. */
export type ClusterErrorCode = (typeof ClusterErrorCode)[keyof typeof ClusterErrorCode];

/** The fully qualified name of the Raft service. */
const raftServiceName = 'coffer.cluster.v1.Raft';

/** The proto file of the Raft service, relative to @coffer/client's proto directory. */
const raftProtoFile = 'coffer/cluster/v1/raft.proto';

type StreamMethod = MethodDefinition<RaftBatch, RaftStreamReply>;

function loadStreamMethod(): StreamMethod {
  const definition = loadClusterPackageDefinition();
  const service = definition[raftServiceName];
  if (service === undefined || 'format' in service || service['Stream'] === undefined) {
    throw new Error(`${raftProtoFile} does not define ${raftServiceName}.Stream`);
  }
  return service['Stream'] as StreamMethod;
}

/** The Raft.Stream method: a bidi stream of batches one way, nothing back. */
export const raftStreamMethod: StreamMethod = loadStreamMethod();
