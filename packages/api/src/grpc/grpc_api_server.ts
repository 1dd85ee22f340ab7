/**
 * The gRPC listener: every coffer.v1 method over TLS, each one router request (method_table.ts),
 * plus the standard grpc.health.v1 service and, when configured, server reflection.
 *
 * One call, in order:
 *
 *   in-flight bound ─▶ deadline ─▶ decode ─▶ metadata (token, wrap TTL, request id)
 *     ─▶ method table (operation, path, data) ─▶ handler.handle() ─▶ Response | status
 *
 * Invariant: nothing but the router decides what a caller may do: the adapter decodes, checks
 * shapes and limits, and passes on; it never answers a request from its own state.
 * Invariant: no message body, token or data is logged or put in an error message; a refusal's
 * details are the core's message or a fixed text naming the field.
 * NB: the in-flight count is released when the router's answer arrives, not when the client
 * goes away: it bounds the work the node is doing, which a cancelled call does not stop.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import {
  Server,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';

import type { CoreRequest, CoreResponse } from '@coffer/core';
import { loadCofferPackageDefinition } from '@coffer/client';

import { ApiError, ApiErrorCode } from '../errors.ts';
import { callContextOf, deadlinePassed, peerAddressOf } from './call_context.ts';
import type { Message } from './message_fields.ts';
import { methodTable, protoPackage, type MethodEntry, type RouterCall } from './method_table.ts';
import { refusalStatusOf, responseMessageOf, type Refusal } from './response_message.ts';
import { ReloadableTls, type TlsIdentity } from './tls_identity.ts';

/** The port the listener serves: CofferNode satisfies it. */
export interface RequestHandler {
  handle(request: CoreRequest): Promise<CoreResponse>;
}

/** One answered call, for the metrics (labels: operation, mount and code only). */
export interface GrpcRequestEvent {
  /** The router operation, or "none" when the call was refused before it had one. */
  readonly operation: string;
  /** The mount path that served the request (`secret/`); undefined when none did. */
  readonly mount: string | undefined;
  /** "ok", or the COFFER_* code of the refusal. */
  readonly code: string;
  readonly seconds: number;
  /** Served from the node's applied state without a read point (a stale read). */
  readonly stale?: boolean;
}

/** Limits of the listener. */
export interface GrpcLimits {
  /** Largest message received or sent; default 4 MiB. */
  readonly messageBytesMax?: number;
  /** Concurrent calls served; beyond it RESOURCE_EXHAUSTED (COFFER_API_OVERLOADED). Default 1024. */
  readonly inFlightMax?: number;
}

/** Options of {@link GrpcApiServer.start}. */
export interface GrpcApiServerOptions {
  readonly handler: RequestHandler;
  /** The address to listen on, e.g. `127.0.0.1` or `::`. */
  readonly host: string;
  /** The port; 0 picks a free one (see {@link GrpcApiServer.port}). */
  readonly port: number;
  readonly tls: TlsIdentity & { readonly clientCaPem?: string };
  readonly limits?: GrpcLimits;
  /** Serve grpc.reflection (v1 and v1alpha); default off. */
  readonly reflection?: boolean;
  readonly onRequest?: (event: GrpcRequestEvent) => void;
  /** Wall-clock ms for deadline checks; default Date.now (tests pass a fake). */
  readonly wallClockMs?: () => number;
}

/** Default message size limit: grpc's own default receive limit. */
export const messageBytesMaxDefault = 4 * 1024 * 1024;
/** Default bound on concurrent calls. */
export const inFlightMaxDefault = 1024;

/** The services whose health follows the seal: all but System, which answers while sealed. */
const sealBoundServices = Object.keys(methodTable)
  .filter((name) => name !== 'System')
  .map((name) => `${protoPackage}.${name}`);

type UnaryCall = ServerUnaryCall<Buffer, unknown>;
type Outcome =
  | {
      readonly ok: true;
      readonly response: unknown;
      readonly event: Omit<GrpcRequestEvent, 'seconds'>;
    }
  | {
      readonly ok: false;
      readonly refusal: Refusal;
      readonly operation: string;
      readonly mount?: string | undefined;
      readonly stale?: boolean;
    };

function isServiceDefinition(
  value: PackageDefinition[string],
): value is Record<string, MethodDefinition<object, object>> {
  return !('format' in value);
}

function refused(code: ApiErrorCode, message: string, operation = 'none'): Outcome {
  return { ok: false, refusal: { code, message, requestId: randomUUID() }, operation };
}

/** The gRPC API listener. Create it with {@link GrpcApiServer.start}. */
export class GrpcApiServer {
  readonly #server: Server;
  readonly #options: GrpcApiServerOptions;
  readonly #tls: ReloadableTls;
  readonly #health = new HealthImplementation({ '': 'SERVING' });
  readonly #methods: string[] = [];
  readonly #inFlightMax: number;
  #inFlight = 0;
  #port = 0;

  private constructor(options: GrpcApiServerOptions) {
    this.#options = options;
    const messageBytesMax = options.limits?.messageBytesMax ?? messageBytesMaxDefault;
    this.#inFlightMax = options.limits?.inFlightMax ?? inFlightMaxDefault;
    assert(Number.isSafeInteger(messageBytesMax) && messageBytesMax > 0);
    assert(Number.isSafeInteger(this.#inFlightMax) && this.#inFlightMax > 0);
    this.#tls = new ReloadableTls(options.tls, options.tls.clientCaPem);
    this.#server = new Server({
      'grpc.max_receive_message_length': messageBytesMax,
      'grpc.max_send_message_length': messageBytesMax,
    });
    const definition = loadCofferPackageDefinition();
    const registrar = {
      addService: (service: ServiceDefinition, implementation: UntypedServiceImplementation) => {
        for (const method of Object.values(service)) {
          this.#methods.push(method.path);
        }
        this.#server.addService(service, implementation);
      },
    };
    this.#addCofferServices(registrar, definition);
    this.#health.addToServer(registrar);
    if (options.reflection === true) {
      new ReflectionService(definition).addToServer(registrar);
    }
    this.setServing(true);
  }

  /**
   * Starts a listener on `host:port` serving every coffer.v1 service. Throws ApiError
   * COFFER_API_TLS_INVALID for key material that does not load, COFFER_API_LISTEN_FAILED when
   * the address cannot be bound.
   */
  static async start(options: GrpcApiServerOptions): Promise<GrpcApiServer> {
    const server = new GrpcApiServer(options);
    await server.#bind();
    return server;
  }

  async #bind(): Promise<void> {
    const { host, port } = this.#options;
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.#port = await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(address, this.#tls.credentials, (error, bound) => {
        if (error === null) {
          resolve(bound);
        } else {
          reject(
            new ApiError(
              ApiErrorCode.listenFailed,
              `Check the gRPC listener address "${address}": it could not be bound`,
              { cause: error },
            ),
          );
        }
      });
    });
  }

  /** The bound port. */
  get port(): number {
    return this.#port;
  }

  /** Every full method name served (`/coffer.v1.Kv/Get`, health, reflection when on). */
  registeredMethods(): readonly string[] {
    return [...this.#methods];
  }

  /**
   * Sets the health of the seal-bound services (`coffer.v1.Kv` and all but `coffer.v1.System`):
   * NOT_SERVING while the node is sealed or standby. The overall "" stays SERVING while the
   * listener serves, and System always answers (status, init, unseal).
   */
  setServing(serving: boolean): void {
    for (const name of sealBoundServices) {
      this.#health.setStatus(name, serving ? 'SERVING' : 'NOT_SERVING');
    }
    this.#health.setStatus(`${protoPackage}.System`, 'SERVING');
  }

  /** Serves `identity` to new connections; open ones keep theirs. Throws COFFER_API_TLS_INVALID. */
  reloadTls(identity: TlsIdentity): void {
    this.#tls.reload(identity);
  }

  /**
   * Stops accepting calls, lets running ones finish for up to `graceMs`, then cancels what is
   * left. Resolves when the listener is closed.
   */
  shutdown(graceMs: number): Promise<void> {
    this.#health.setStatus('', 'NOT_SERVING');
    for (const name of [...sealBoundServices, `${protoPackage}.System`]) {
      this.#health.setStatus(name, 'NOT_SERVING');
    }
    return new Promise((resolve) => {
      const force = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  #addCofferServices(
    registrar: { addService: Server['addService'] },
    definition: PackageDefinition,
  ): void {
    for (const [fullName, value] of Object.entries(definition)) {
      if (!fullName.startsWith(`${protoPackage}.`) || !isServiceDefinition(value)) {
        continue;
      }
      const serviceName = fullName.slice(protoPackage.length + 1);
      const service: Record<string, ServiceDefinition[string]> = {};
      const implementation: UntypedServiceImplementation = {};
      for (const [methodName, method] of Object.entries(value)) {
        const entry = methodTable[serviceName]?.[methodName];
        assert(entry !== undefined, `method ${fullName}.${methodName} has no table entry`);
        // NB: the handler decodes the bytes itself, so a bad payload is INVALID_ARGUMENT with
        // a Coffer code rather than grpc-js's bare INTERNAL.
        service[methodName] = { ...method, requestDeserialize: (bytes: Buffer) => bytes };
        implementation[methodName] = (call: UnaryCall, callback: sendUnaryData<unknown>) => {
          this.#onCall({ call, entry, decode: method.requestDeserialize }, callback);
        };
      }
      registrar.addService(service, implementation);
    }
  }

  #onCall(
    target: { call: UnaryCall; entry: MethodEntry; decode: (bytes: Buffer) => object },
    callback: sendUnaryData<unknown>,
  ): void {
    const startedMs = performance.now();
    const served = this.#serve(target).catch((): Outcome =>
      // NB: #serve catches what it expects; anything else (a response that does not
      // serialize) is an internal failure of this call, not of the listener.
      refused(
        ApiErrorCode.internal,
        'Retry later: the server could not encode the answer to this request',
      ),
    );
    void served.then((outcome) => {
      const seconds = (performance.now() - startedMs) / 1000;
      this.#report(outcome, seconds);
      if (target.call.cancelled) {
        return; // NB: the client is gone; its answer is dropped.
      }
      if (outcome.ok) {
        callback(null, outcome.response);
      } else {
        callback(refusalStatusOf(outcome.refusal));
      }
    });
  }

  #report(outcome: Outcome, seconds: number): void {
    const onRequest = this.#options.onRequest;
    if (onRequest === undefined) {
      return;
    }
    const event = outcome.ok
      ? { ...outcome.event, seconds }
      : {
          operation: outcome.operation,
          mount: outcome.mount,
          code: outcome.refusal.code,
          seconds,
          ...(outcome.stale === true ? { stale: true } : {}),
        };
    try {
      onRequest(event);
    } catch {
      // NB: a metrics hook must not break a call; the hook owns its failures.
    }
  }

  /** Serves one call to an outcome. Never throws. */
  async #serve(target: {
    call: UnaryCall;
    entry: MethodEntry;
    decode: (bytes: Buffer) => object;
  }): Promise<Outcome> {
    const { call } = target;
    if (this.#inFlight >= this.#inFlightMax) {
      return refused(
        ApiErrorCode.overloaded,
        `Retry after a short wait: the server is serving its limit of ${this.#inFlightMax} concurrent requests`,
      );
    }
    const nowMs = (this.#options.wallClockMs ?? Date.now)();
    if (deadlinePassed(call.getDeadline(), nowMs)) {
      return refused(
        ApiErrorCode.deadlineExceeded,
        'Give the call a longer deadline: it had passed before the request reached the router',
      );
    }
    let request: CoreRequest;
    try {
      request = this.#routerRequest(target);
    } catch (error) {
      return error instanceof ApiError
        ? refused(error.code, error.message)
        : refused(
            ApiErrorCode.invalidRequest,
            'Check the request: it could not be turned into a router request',
          );
    }
    return this.#route(request);
  }

  /** Decodes the message and reads the metadata into a router request; throws ApiError. */
  #routerRequest(target: {
    call: UnaryCall;
    entry: MethodEntry;
    decode: (bytes: Buffer) => object;
  }): CoreRequest {
    let message: Message;
    try {
      message = target.decode(target.call.request) as Message;
    } catch (error) {
      throw new ApiError(
        ApiErrorCode.invalidRequest,
        `Send a valid protobuf message for ${target.call.getPath()}: the request did not decode`,
        { cause: error },
      );
    }
    const routerCall: RouterCall = target.entry.toCall(message);
    const context = callContextOf(target.call.metadata);
    const clientAddress = peerAddressOf(target.call.getPeer());
    return {
      ...routerCall,
      ...context,
      ...(clientAddress === undefined ? {} : { clientAddress }),
    };
  }

  async #route(request: CoreRequest): Promise<Outcome> {
    this.#inFlight += 1;
    let response: CoreResponse;
    try {
      response = await this.#options.handler.handle(request);
    } catch {
      // NB: handle() never throws by contract; a handler that does is answered INTERNAL.
      response = {
        ok: false,
        requestId: request.requestId ?? randomUUID(),
        code: 'COFFER_CORE_INTERNAL',
        message: 'Retry later: the request failed on an internal error',
      };
    } finally {
      this.#inFlight -= 1;
    }
    if (!response.ok) {
      const { code, message, requestId, retryAfterMs, mountPath, staleRead } = response;
      return {
        ok: false,
        refusal: {
          code,
          message,
          requestId,
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
          ...(staleRead === undefined ? {} : { staleAppliedIndex: staleRead.appliedIndex }),
        },
        operation: request.operation,
        mount: mountPath,
        ...(staleRead === undefined ? {} : { stale: true }),
      };
    }
    return {
      ok: true,
      response: responseMessageOf(response),
      event: {
        operation: request.operation,
        mount: response.mountPath,
        code: 'ok',
        ...(response.staleRead === undefined ? {} : { stale: true }),
      },
    };
  }
}
