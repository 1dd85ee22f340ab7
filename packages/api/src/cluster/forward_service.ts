/**
 * The Forward service of the cluster channel (coffer/cluster/v1/forward.proto), server side: a
 * standby's requests served on this node, and the leader changes this node knows, streamed to
 * whoever follows them (docs/design/cluster.md §2 and §5).
 *
 * It runs on the cluster port ({@link ClusterServer.addService}), so every call was admitted
 * before it gets here: the caller's certificate names a current member of this cluster and the
 * node the caller claims to be, and it speaks our protocol.
 *
 * Invariant: a CoreRequest's clientAddress and requestId are set from a field of a message only
 * here, and only from the ForwardRequest's own fields, never from request_json: a request_json
 * naming either is refused. The public listeners take the address from the connection, so the
 * only way to state another client address is to be an mTLS-verified member of the cluster.
 * Invariant: request_json holds the caller's token: it is never logged, and a refusal quotes
 * none of it.
 *
 * This file also holds what both ends share: the wire codec of the two messages, and the
 * {@link LeaderSource} port with {@link LeaderChanges}, the source a node publishes its own
 * view of the leader to.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';

import {
  Metadata,
  status,
  type MethodDefinition,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
} from '@grpc/grpc-js';

import { loadClusterPackageDefinition } from '@coffer/client';
import { Operation, type CoreRequest, type CoreResponse } from '@coffer/core';

import { ApiErrorCode } from '../errors.ts';
import type { ClusterServiceImplementation } from './cluster_server.ts';
import { ClusterMetadataKey } from './raft_service.ts';

/** ForwardRequest on the wire. */
export interface ForwardRequestMessage {
  /** The request without clientAddress and requestId, as JSON. Holds a token: never logged. */
  readonly request_json: string;
  readonly client_address: string;
  readonly request_id: string;
}

/** ForwardResponse on the wire. */
export interface ForwardResponseMessage {
  readonly response_json: string;
}

/** LeaderChange on the wire. */
export interface LeaderChangeMessage {
  readonly term: number;
  readonly leader_id: number;
  readonly api_address: string;
  readonly cluster_address: string;
  readonly index: number;
}

/** Who leads, as one node knows it. */
export interface LeaderChange {
  readonly term: number;
  /** The leader's node id; 0 while no leader is known in this term. */
  readonly leaderId: number;
  /** The leader's API address ("host:port"), empty when unknown. */
  readonly apiAddress: string;
  /** The leader's cluster address ("host:port"), empty when unknown. */
  readonly clusterAddress: string;
  /** Increases with each change its source publishes; changes are delivered in this order. */
  readonly index: number;
}

/** Where the leader is learned: the current one, and each change, pushed. */
export interface LeaderSource {
  /** The latest change, or undefined before the first. */
  current(): LeaderChange | undefined;
  /** Calls listener with each later change, in index order; returns unsubscribe. */
  onChange(listener: (change: LeaderChange) => void): () => void;
}

/** The longest address accepted in a LeaderChange. */
const addressLengthMax = 512;

/**
 * A {@link LeaderSource} its owner publishes to (from Raft status on this node, or from a
 * peer's leader stream). A publish that repeats the current leader changes nothing.
 */
export class LeaderChanges implements LeaderSource {
  #current: LeaderChange | undefined;
  readonly #listeners = new Set<(change: LeaderChange) => void>();

  current(): LeaderChange | undefined {
    return this.#current;
  }

  onChange(listener: (change: LeaderChange) => void): () => void {
    // NB: a wrapper per subscription, so one listener subscribed twice unsubscribes each once.
    const entry = (change: LeaderChange): void => {
      listener(change);
    };
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Publishes a leader; returns the change, or undefined when it repeats the current one. */
  publish(leader: Omit<LeaderChange, 'index'>): LeaderChange | undefined {
    assert(Number.isSafeInteger(leader.term) && leader.term >= 0);
    assert(Number.isSafeInteger(leader.leaderId) && leader.leaderId >= 0);
    const previous = this.#current;
    if (
      previous !== undefined &&
      previous.term === leader.term &&
      previous.leaderId === leader.leaderId &&
      previous.apiAddress === leader.apiAddress &&
      previous.clusterAddress === leader.clusterAddress
    ) {
      return undefined;
    }
    const change: LeaderChange = { ...leader, index: (previous?.index ?? 0) + 1 };
    this.#current = change;
    for (const listener of [...this.#listeners]) {
      listener(change);
    }
    return change;
  }
}

/**
 * A request id a forwarded request may carry: 1 to 128 of [A-Za-z0-9._-], the rule of the
 * gRPC listener's `coffer-request-id` (call_context.ts).
 */
export const forwardRequestIdPattern = /^[A-Za-z0-9._-]{1,128}$/;

/** The default bound on request_json, in UTF-8 bytes (the API accepts 4 MiB messages). */
export const forwardRequestBytesMaxDefault = 16 * 1024 * 1024;

/** The fields request_json may hold; clientAddress and requestId travel outside it. */
const requestJsonKeys: ReadonlySet<string> = new Set([
  'operation',
  'path',
  'data',
  'token',
  'wrapTtlSeconds',
]);
const operations: ReadonlySet<string> = new Set(Object.values(Operation));

/** A ForwardRequest for `request`: its address and id in their own fields. */
export function encodeForwardRequest(request: CoreRequest): ForwardRequestMessage {
  const { clientAddress, requestId, ...rest } = request;
  assert(requestId !== undefined, 'a forwarded request carries its request id');
  return {
    request_json: JSON.stringify(rest),
    client_address: clientAddress ?? '',
    request_id: requestId,
  };
}

/** The outcome of decoding a ForwardRequest: the request, or why it is refused. */
export type ForwardRequestDecoding =
  | { readonly ok: true; readonly request: CoreRequest }
  | { readonly ok: false; readonly details: string };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function refused(details: string): ForwardRequestDecoding {
  return { ok: false, details: `Send a valid forwarded request: ${details}` };
}

function parseObject(json: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(json);
    return isPlainObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Why the fields of a parsed request_json are refused, or undefined when they are valid. */
function fieldsRefusal(fields: Record<string, unknown>): string | undefined {
  if (Object.keys(fields).some((key) => !requestJsonKeys.has(key))) {
    return 'request_json holds a field other than operation, path, data, token and wrapTtlSeconds';
  }
  const { operation, path, data, token, wrapTtlSeconds } = fields;
  if (typeof operation !== 'string' || !operations.has(operation)) {
    return 'request_json names no known operation';
  }
  if (typeof path !== 'string') {
    return 'request_json has no path';
  }
  if (data !== undefined && !isPlainObject(data)) {
    return 'request_json has data that is not an object';
  }
  if (token !== undefined && typeof token !== 'string') {
    return 'request_json has a token that is not a string';
  }
  if (
    wrapTtlSeconds !== undefined &&
    !(typeof wrapTtlSeconds === 'number' && Number.isSafeInteger(wrapTtlSeconds))
  ) {
    return 'request_json has a wrapTtlSeconds that is not an integer';
  }
  return undefined;
}

/**
 * The CoreRequest a ForwardRequest carries, checked strictly: request_json must be one JSON
 * object of at most `requestBytesMax` UTF-8 bytes with only the known fields; client_address
 * empty or an IP literal; request_id as {@link forwardRequestIdPattern}. A refusal quotes
 * nothing of the message.
 */
export function decodeForwardRequest(
  message: ForwardRequestMessage,
  requestBytesMax: number,
): ForwardRequestDecoding {
  const { request_json: json, client_address: clientAddress, request_id: requestId } = message;
  if (Buffer.byteLength(json, 'utf8') > requestBytesMax) {
    return refused(`request_json is larger than ${requestBytesMax} bytes`);
  }
  const fields = parseObject(json);
  if (fields === undefined) {
    return refused('request_json is not a JSON object');
  }
  const refusal = fieldsRefusal(fields);
  if (refusal !== undefined) {
    return refused(refusal);
  }
  if (clientAddress !== '' && isIP(clientAddress) === 0) {
    return refused('client_address is not an IP address');
  }
  if (!forwardRequestIdPattern.test(requestId)) {
    return refused('request_id is not 1 to 128 of [A-Za-z0-9._-]');
  }
  // NB: fields was checked above to hold only CoreRequest's fields, with their types.
  const request = fields as unknown as CoreRequest;
  return {
    ok: true,
    request: { ...request, requestId, ...(clientAddress === '' ? {} : { clientAddress }) },
  };
}

/** The outcome of decoding a ForwardResponse: the router's answer, or why it is refused. */
export type ForwardResponseDecoding =
  | { readonly ok: true; readonly response: CoreResponse }
  | { readonly ok: false; readonly details: string };

/**
 * The CoreResponse a ForwardResponse carries, checked for its shape: a JSON object of at most
 * `responseBytesMax` bytes with `ok` and `requestId`, and on a failure a COFFER_* code and a
 * message. What a success holds is the router's and is passed on as it came.
 */
export function decodeForwardResponse(
  message: ForwardResponseMessage,
  responseBytesMax: number,
): ForwardResponseDecoding {
  if (Buffer.byteLength(message.response_json, 'utf8') > responseBytesMax) {
    return { ok: false, details: `response_json is larger than ${responseBytesMax} bytes` };
  }
  const fields = parseObject(message.response_json);
  if (fields === undefined || typeof fields['ok'] !== 'boolean') {
    return { ok: false, details: 'response_json is not a router response' };
  }
  if (typeof fields['requestId'] !== 'string') {
    return { ok: false, details: 'response_json has no request id' };
  }
  const { code, message: text } = fields;
  if (
    !fields['ok'] &&
    (typeof code !== 'string' || !code.startsWith('COFFER_') || typeof text !== 'string')
  ) {
    return { ok: false, details: 'response_json is a failure without a code and a message' };
  }
  return { ok: true, response: fields as unknown as CoreResponse };
}

/** A LeaderChange for the wire. */
export function leaderChangeMessage(change: LeaderChange): LeaderChangeMessage {
  return {
    term: change.term,
    leader_id: change.leaderId,
    api_address: change.apiAddress,
    cluster_address: change.clusterAddress,
    index: change.index,
  };
}

/** The LeaderChange a peer sent, or undefined when a field is out of range. */
export function decodeLeaderChange(message: LeaderChangeMessage): LeaderChange | undefined {
  const { term, leader_id: leaderId, index } = message;
  const counts = [term, leaderId, index];
  if (!counts.every((count) => Number.isSafeInteger(count) && count >= 0)) {
    return undefined;
  }
  if (
    message.api_address.length > addressLengthMax ||
    message.cluster_address.length > addressLengthMax
  ) {
    return undefined;
  }
  return {
    term,
    leaderId,
    apiAddress: message.api_address,
    clusterAddress: message.cluster_address,
    index,
  };
}

/** The fully qualified name of the Forward service. */
const forwardServiceName = 'coffer.cluster.v1.Forward';

function loadForwardService(): ServiceDefinition {
  const definition = loadClusterPackageDefinition()[forwardServiceName];
  if (
    definition === undefined ||
    'format' in definition ||
    definition['Handle'] === undefined ||
    definition['WatchLeader'] === undefined
  ) {
    throw new Error(`forward.proto does not define ${forwardServiceName}`);
  }
  return definition;
}

/** The Forward service's definition, for a ClusterServer and for clients. */
export const forwardServiceDefinition: ServiceDefinition = loadForwardService();

/** Forward.Handle: one router request. */
export const forwardHandleMethod = forwardServiceDefinition['Handle'] as MethodDefinition<
  ForwardRequestMessage,
  ForwardResponseMessage
>;

/** Forward.WatchLeader: the leader now, then each change. */
export const forwardWatchLeaderMethod = forwardServiceDefinition['WatchLeader'] as MethodDefinition<
  Record<string, never>,
  LeaderChangeMessage
>;

/** Options of a {@link ForwardService}. */
export interface ForwardServiceOptions {
  /**
   * This node's own request path (the active node's router). It must not forward again: a
   * node that is not active answers COFFER_CORE_NOT_ACTIVE or COFFER_CORE_NOT_READY, and the
   * standby retries elsewhere.
   */
  readonly handle: (request: CoreRequest) => Promise<CoreResponse>;
  /** What this node knows of the leader, streamed by WatchLeader. */
  readonly leaders: LeaderSource;
  /** The largest request_json accepted, in bytes; default {@link forwardRequestBytesMaxDefault}. */
  readonly requestBytesMax?: number;
}

/** Counters of a {@link ForwardService}, since it was made. */
export interface ForwardServiceStats {
  readonly requestsServed: number;
  readonly requestsRefused: number;
  /** Requests whose handle() threw (answered INTERNAL). */
  readonly requestsFailed: number;
  readonly watchersOpened: number;
}

function failure(code: status, errorCode: string, details: string) {
  const metadata = new Metadata();
  metadata.set(ClusterMetadataKey.errorCode, errorCode);
  return { code, details, metadata };
}

/** The Forward service, to add to this node's {@link ClusterServer}. */
export class ForwardService {
  readonly #options: ForwardServiceOptions;
  readonly #requestBytesMax: number;
  #requestsServed = 0;
  #requestsRefused = 0;
  #requestsFailed = 0;
  #watchersOpened = 0;

  constructor(options: ForwardServiceOptions) {
    this.#requestBytesMax = options.requestBytesMax ?? forwardRequestBytesMaxDefault;
    assert(Number.isSafeInteger(this.#requestBytesMax) && this.#requestBytesMax > 0);
    this.#options = options;
  }

  /** The methods, for `clusterServer.addService(forwardServiceDefinition, ...)`. */
  implementation(): ClusterServiceImplementation {
    return {
      Handle: {
        kind: 'unary',
        serve: (call, callback) => {
          this.#handle(
            call as ServerUnaryCall<ForwardRequestMessage, ForwardResponseMessage>,
            callback,
          );
        },
      },
      WatchLeader: {
        kind: 'serverStream',
        serve: (call) => {
          this.#watch(call);
        },
      },
    };
  }

  /** Counters since the service was made. */
  stats(): ForwardServiceStats {
    return {
      requestsServed: this.#requestsServed,
      requestsRefused: this.#requestsRefused,
      requestsFailed: this.#requestsFailed,
      watchersOpened: this.#watchersOpened,
    };
  }

  #handle(
    call: ServerUnaryCall<ForwardRequestMessage, ForwardResponseMessage>,
    callback: sendUnaryData<unknown>,
  ): void {
    const decoded = decodeForwardRequest(call.request, this.#requestBytesMax);
    if (!decoded.ok) {
      this.#requestsRefused += 1;
      callback(failure(status.INVALID_ARGUMENT, ApiErrorCode.invalidRequest, decoded.details));
      return;
    }
    this.#options.handle(decoded.request).then(
      (response) => {
        this.#requestsServed += 1;
        const answer: ForwardResponseMessage = { response_json: JSON.stringify(response) };
        callback(null, answer);
      },
      () => {
        // NB: the error may quote the request; the caller learns only that it failed here.
        this.#requestsFailed += 1;
        const details = 'Retry the request: the active node failed to serve it';
        callback(failure(status.INTERNAL, ApiErrorCode.internal, details));
      },
    );
  }

  #watch(call: ServerWritableStream<unknown, unknown>): void {
    this.#watchersOpened += 1;
    const { leaders } = this.#options;
    let sentIndex = -1;
    const send = (change: LeaderChange): void => {
      // Invariant: a watcher sees changes in index order, each once.
      if (change.index > sentIndex) {
        sentIndex = change.index;
        call.write(leaderChangeMessage(change));
      }
    };
    // Tells the caller it was admitted (it resets its reconnection backoff on this).
    call.sendMetadata(new Metadata());
    const unsubscribe = leaders.onChange(send);
    const current = leaders.current();
    if (current !== undefined) {
      send(current);
    }
    for (const event of ['cancelled', 'finish', 'error', 'close']) {
      call.once(event, unsubscribe);
    }
  }
}
