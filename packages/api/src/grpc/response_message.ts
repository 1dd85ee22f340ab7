/**
 * The router's answer on the wire: a CoreSuccess becomes a coffer.v1.Response message; a refusal
 * becomes a gRPC status (statusOf) with the core's message as details and the stable code in the
 * `coffer-error-code` trailer (plus `coffer-retry-after-ms` when rate limited).
 */
import { Metadata, type StatusObject } from '@grpc/grpc-js';

import type { CoreSuccess } from '@coffer/core';

import { MetadataKey } from './call_context.ts';
import { grpcStatusOf } from './status_table.ts';

/** A coffer.v1.Response, as proto-loader serializes it (field names as in common.proto). */
export interface ResponseMessage {
  readonly request_id: string;
  readonly data_json: string;
  readonly lease: Readonly<Record<string, unknown>> | null;
  readonly auth: Readonly<Record<string, unknown>> | null;
  readonly wrap_info: Readonly<Record<string, unknown>> | null;
  readonly warnings: readonly string[];
  readonly stale_read: { readonly applied_index: number } | null;
}

/** The Response message of a served request. */
export function responseMessageOf(success: CoreSuccess): ResponseMessage {
  const { lease, auth, wrapInfo } = success;
  return {
    request_id: success.requestId,
    data_json: success.data === undefined ? '' : JSON.stringify(success.data),
    lease:
      lease === undefined
        ? null
        : { lease_id: lease.leaseId, ttl_seconds: lease.ttlSeconds, renewable: lease.renewable },
    auth:
      auth === undefined
        ? null
        : {
            client_token: auth.clientToken,
            accessor: auth.accessor,
            policies: [...auth.policies],
            token_policies: [...auth.tokenPolicies],
            metadata: { ...auth.metadata },
            lease_duration_seconds: auth.leaseDurationSeconds,
            renewable: auth.renewable,
            orphan: auth.orphan,
            token_type: auth.tokenType,
            num_uses: auth.numUses,
          },
    wrap_info:
      wrapInfo === undefined
        ? null
        : {
            token: wrapInfo.token,
            accessor: wrapInfo.accessor,
            ttl_seconds: wrapInfo.ttlSeconds,
            creation_time: wrapInfo.creationTime,
            creation_path: wrapInfo.creationPath,
          },
    warnings: [...(success.warnings ?? [])],
    stale_read:
      success.staleRead === undefined ? null : { applied_index: success.staleRead.appliedIndex },
  };
}

/** What a refusal carries. */
export interface Refusal {
  readonly code: string;
  readonly message: string;
  readonly requestId: string;
  readonly retryAfterMs?: number;
  /** Set when a stale read was refused from its node's applied state (NOT_FOUND may be old). */
  readonly staleAppliedIndex?: number;
}

/** The gRPC status of a refusal, its trailers carrying the stable code and the request id. */
export function refusalStatusOf(refusal: Refusal): Partial<StatusObject> & { code: number } {
  const metadata = new Metadata();
  metadata.set(MetadataKey.errorCode, refusal.code);
  metadata.set(MetadataKey.requestId, refusal.requestId);
  if (refusal.retryAfterMs !== undefined) {
    metadata.set(MetadataKey.retryAfterMs, String(Math.max(0, Math.ceil(refusal.retryAfterMs))));
  }
  if (refusal.staleAppliedIndex !== undefined) {
    metadata.set(MetadataKey.staleAppliedIndex, String(refusal.staleAppliedIndex));
  }
  return { code: grpcStatusOf(refusal.code), details: refusal.message, metadata };
}
