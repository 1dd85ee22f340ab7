/**
 * Decoding of the generic coffer.v1.Response into a {@link CofferResponse}: `data_json` parsed
 * into an object ("" means {}), and the lease, auth and wrap info left out when the server sent
 * none (proto3 cannot tell an absent message from an empty one, so an empty id means absent).
 */
import type {
  ClientAuth,
  ClientLease,
  ClientStaleRead,
  ClientWrapInfo,
  CofferResponse,
} from './client_api.ts';
import { ClientErrorCode, CofferClientError } from './errors.ts';
import type { AuthInfo__Output } from './generated/coffer/v1/AuthInfo.ts';
import type { Lease__Output } from './generated/coffer/v1/Lease.ts';
import type { Response__Output } from './generated/coffer/v1/Response.ts';
import type { StaleRead__Output } from './generated/coffer/v1/StaleRead.ts';
import type { WrapInfo__Output } from './generated/coffer/v1/WrapInfo.ts';
import { GrpcStatus } from './grpc_transport.ts';

function invalidResponse(why: string): CofferClientError {
  return new CofferClientError(
    ClientErrorCode.invalidResponse,
    `Check that client and server versions match: the server's response ${why}`,
    { grpcCode: GrpcStatus.internal },
  );
}

/** Parses `data_json`: "" is {}; anything but a JSON object is refused. */
export function decodeDataJson(dataJson: string): Readonly<Record<string, unknown>> {
  if (dataJson === '') {
    return {};
  }
  let data: unknown;
  try {
    data = JSON.parse(dataJson);
  } catch {
    // NB: no cause: V8's SyntaxError quotes part of the text, which may be a secret value.
    throw invalidResponse('data is not valid JSON');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw invalidResponse('data is JSON but not an object');
  }
  return data as Record<string, unknown>;
}

function decodeLease(lease: Lease__Output | null): ClientLease | undefined {
  if (lease === null || lease.lease_id === '') {
    return undefined;
  }
  return { leaseId: lease.lease_id, ttlSeconds: lease.ttl_seconds, renewable: lease.renewable };
}

function decodeAuth(auth: AuthInfo__Output | null): ClientAuth | undefined {
  if (auth === null || auth.client_token === '') {
    return undefined;
  }
  return {
    clientToken: auth.client_token,
    accessor: auth.accessor,
    policies: [...auth.policies],
    tokenPolicies: [...auth.token_policies],
    metadata: { ...auth.metadata },
    leaseDurationSeconds: auth.lease_duration_seconds,
    renewable: auth.renewable,
    orphan: auth.orphan,
    tokenType: auth.token_type,
    numUses: auth.num_uses,
  };
}

function decodeWrapInfo(wrapInfo: WrapInfo__Output | null): ClientWrapInfo | undefined {
  if (wrapInfo === null || wrapInfo.token === '') {
    return undefined;
  }
  return {
    token: wrapInfo.token,
    accessor: wrapInfo.accessor,
    ttlSeconds: wrapInfo.ttl_seconds,
    creationTime: wrapInfo.creation_time,
    creationPath: wrapInfo.creation_path,
  };
}

/** The stale-read mark of a response, or undefined for a linearizable answer. */
function decodeStaleRead(stale: StaleRead__Output | null): ClientStaleRead | undefined {
  if (stale === null) {
    return undefined;
  }
  if (!Number.isSafeInteger(stale.applied_index) || stale.applied_index < 0) {
    throw invalidResponse('stale read index is not a whole number');
  }
  return { appliedIndex: stale.applied_index };
}

/** Decodes one Response message; throws COFFER_CLIENT_INVALID_RESPONSE on bad data. */
export function decodeResponse(message: Response__Output): CofferResponse {
  const stale = decodeStaleRead(message.stale_read);
  return {
    requestId: message.request_id,
    data: decodeDataJson(message.data_json),
    lease: decodeLease(message.lease),
    auth: decodeAuth(message.auth),
    wrapInfo: decodeWrapInfo(message.wrap_info),
    warnings: [...message.warnings],
    ...(stale === undefined ? {} : { staleRead: stale }),
  };
}
