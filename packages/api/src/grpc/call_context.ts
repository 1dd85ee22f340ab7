/**
 * What one gRPC call tells the router besides its message: the token, the response-wrapping TTL,
 * the read consistency and the request id from metadata (common.proto's conventions), the client's address from the
 * connection, and whether its deadline has already passed.
 *
 * Invariant: a refusal here names the metadata key and what to send, never the value (a token
 * is a secret, and a malformed one may be a mistyped secret).
 */

import type { Metadata } from '@grpc/grpc-js';

import { Consistency } from '@coffer/core';

import { ApiError, ApiErrorCode } from '../errors.ts';
import { routableToken } from '../token_value.ts';

/** The metadata keys of common.proto. */
export const MetadataKey = {
  token: 'coffer-token',
  wrapTtl: 'coffer-wrap-ttl',
  requestId: 'coffer-request-id',
  errorCode: 'coffer-error-code',
  retryAfterMs: 'coffer-retry-after-ms',
  /** `stale` allows a secret read to be served from the node's applied state (stale_read.ts). */
  consistency: 'coffer-consistency',
  /** On a refusal of a stale read: the Raft index the node had applied. */
  staleAppliedIndex: 'coffer-stale-applied-index',
} as const;

/** The call-level parts of a router request. */
export interface CallContext {
  readonly token?: string;
  readonly wrapTtlSeconds?: number;
  readonly consistency?: Consistency;
  /**
   * The caller's request id; absent when it sent none (or a malformed one): the node then makes
   * one, and the request is not exactly-once, since the caller could not resend that id.
   */
  readonly requestId?: string;
}

const requestIdPattern = /^[A-Za-z0-9._-]{1,128}$/;
/** Whole seconds, at most 10 digits (the router checks the range). */
const wrapTtlPattern = /^\d{1,10}$/;

function invalid(message: string): ApiError {
  return new ApiError(ApiErrorCode.invalidRequest, message);
}

/** The one string value of `key`, undefined when absent; refused when repeated or binary. */
function singleValue(metadata: Metadata, key: string): string | undefined {
  const values = metadata.get(key);
  if (values.length === 0) {
    return undefined;
  }
  const [value] = values;
  if (values.length > 1 || typeof value !== 'string') {
    throw invalid(`Send one text value in metadata "${key}": it came repeated or binary`);
  }
  return value;
}

function tokenOf(metadata: Metadata): string | undefined {
  const token = singleValue(metadata, MetadataKey.token);
  if (token === undefined) {
    return undefined;
  }
  return routableToken(token);
}

function wrapTtlOf(metadata: Metadata): number | undefined {
  const text = singleValue(metadata, MetadataKey.wrapTtl);
  if (text === undefined) {
    return undefined;
  }
  if (!wrapTtlPattern.test(text.trim())) {
    throw invalid(`Send metadata "${MetadataKey.wrapTtl}" as whole seconds, e.g. "300"`);
  }
  return Number(text.trim());
}

/** The read consistency: `stale` or `linearizable` (the default, as when absent). */
function consistencyOf(metadata: Metadata): Consistency | undefined {
  const text = singleValue(metadata, MetadataKey.consistency)?.trim();
  if (text === undefined) {
    return undefined;
  }
  if (text !== Consistency.stale && text !== Consistency.linearizable) {
    throw invalid(
      `Send metadata "${MetadataKey.consistency}" as "${Consistency.stale}" or ` +
        `"${Consistency.linearizable}", or leave it out`,
    );
  }
  return text;
}

/**
 * The caller's request id when it is 1 to 128 characters of [A-Za-z0-9._-]; otherwise (absent,
 * too long, other characters) undefined, so a bad id never reaches a log line.
 */
function requestIdOf(metadata: Metadata): string | undefined {
  const values = metadata.get(MetadataKey.requestId);
  const [value] = values;
  return values.length === 1 && typeof value === 'string' && requestIdPattern.test(value)
    ? value
    : undefined;
}

/** Reads the call's metadata; throws ApiError COFFER_API_INVALID_REQUEST on a malformed value. */
export function callContextOf(metadata: Metadata): CallContext {
  const token = tokenOf(metadata);
  const wrapTtlSeconds = wrapTtlOf(metadata);
  const consistency = consistencyOf(metadata);
  const requestId = requestIdOf(metadata);
  return {
    ...(requestId === undefined ? {} : { requestId }),
    ...(token === undefined ? {} : { token }),
    ...(wrapTtlSeconds === undefined ? {} : { wrapTtlSeconds }),
    ...(consistency === undefined ? {} : { consistency }),
  };
}

/**
 * The IP literal of a grpc-js peer string: `ipv4:127.0.0.1:5000` → `127.0.0.1`,
 * `ipv6:[::1]:5000` → `::1`; undefined for anything else (a Unix socket, "unknown").
 */
export function peerAddressOf(peer: string): string | undefined {
  const v6 = /^(?:ipv6:)?\[([0-9A-Fa-f:.%a-zA-Z]+)\]:\d+$/.exec(peer);
  if (v6 !== null) {
    return v6[1];
  }
  const v4 = /^(?:ipv4:)?(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(peer);
  return v4 === null ? undefined : v4[1];
}

/**
 * True when a call's deadline has passed at `nowMs` (wall-clock ms). grpc-js gives Infinity for
 * a call without a deadline.
 */
export function deadlinePassed(deadline: Date | number, nowMs: number): boolean {
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(deadlineMs) && deadlineMs <= nowMs;
}
