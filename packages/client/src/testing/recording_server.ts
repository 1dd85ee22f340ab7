/**
 * A test double of the server side: an in-process grpc-js server over real TLS on 127.0.0.1
 * that implements every method of every coffer.v1 service from the same package definition as
 * the client, records each call (method, request, metadata, deadline) and answers as the test
 * says. The real server is @coffer/api's; this one only lets the client's tests see the wire.
 */
import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';

import type { Response } from '../generated/coffer/v1/Response.ts';
import { loadCofferPackageDefinition } from '../proto_definition.ts';
import type { TestTls } from './test_tls.ts';

/** One call the server received. */
export interface RecordedCall {
  /** `Service/Method`, e.g. `Kv/Put`. */
  readonly method: string;
  /** The decoded request, with proto3 defaults filled in (keepCase field names). */
  readonly request: Readonly<Record<string, unknown>>;
  /** The string metadata entries (first value of each key). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The call's deadline as grpc-js reports it (Infinity when none). */
  readonly deadlineMs: number;
}

/** How the server answers a call. */
export type Reply =
  | { readonly kind: 'response'; readonly response: Response }
  | {
      readonly kind: 'error';
      readonly grpcCode: status;
      readonly details: string;
      readonly trailers?: Readonly<Record<string, string>>;
    }
  /** Never answer: the call stays open until the client gives up or the server stops. */
  | { readonly kind: 'hang' };

/** Answers every call with an empty response that carries the call's method in data_json. */
export function echoMethodReply(call: RecordedCall): Reply {
  return { kind: 'response', response: { data_json: JSON.stringify({ method: call.method }) } };
}

function stringEntries(metadata: Metadata): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === 'string') {
      entries[key] = value;
    }
  }
  return entries;
}

function deadlineMsOf(call: ServerUnaryCall<unknown, unknown>): number {
  const deadline = call.getDeadline();
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/** A running recording server; stop it at the end of the test. */
export class RecordingServer {
  /** Every call received, in order of arrival. */
  readonly calls: RecordedCall[] = [];
  /** How to answer the next calls; tests replace it. */
  reply: (call: RecordedCall) => Reply = echoMethodReply;
  /** Every `Service/Method` the server registered, sorted. */
  readonly methods: readonly string[];
  readonly #server = new Server();
  #port = 0;

  private constructor() {
    const methods: string[] = [];
    for (const [name, service] of serviceEntries(loadCofferPackageDefinition())) {
      const implementation: UntypedServiceImplementation = {};
      for (const method of Object.keys(service)) {
        const path = `${name}/${method}`;
        methods.push(path);
        implementation[method] = (
          call: ServerUnaryCall<unknown, unknown>,
          callback: sendUnaryData<Response>,
        ) => {
          this.#handle(path, call, callback);
        };
      }
      this.#server.addService(service, implementation);
    }
    this.methods = methods.sort();
  }

  /** `127.0.0.1:<port>`. */
  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  /** Starts a server with `tls` on 127.0.0.1 and an OS-assigned port. */
  static async start(tls: TestTls): Promise<RecordingServer> {
    const recording = new RecordingServer();
    const credentials = ServerCredentials.createSsl(null, [
      { cert_chain: Buffer.from(tls.certPem), private_key: Buffer.from(tls.keyPem) },
    ]);
    recording.#port = await new Promise<number>((resolve, reject) => {
      recording.#server.bindAsync('127.0.0.1:0', credentials, (error, port) => {
        if (error === null) {
          resolve(port);
        } else {
          reject(error);
        }
      });
    });
    return recording;
  }

  /** The calls of one method. */
  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  /** Stops at once: open calls (hanging ones too) end with CANCELLED or UNAVAILABLE. */
  stop(): void {
    this.#server.forceShutdown();
  }

  #handle(
    method: string,
    call: ServerUnaryCall<unknown, unknown>,
    callback: sendUnaryData<Response>,
  ): void {
    const recorded: RecordedCall = {
      method,
      request: call.request as Record<string, unknown>,
      metadata: stringEntries(call.metadata),
      deadlineMs: deadlineMsOf(call),
    };
    this.calls.push(recorded);
    const reply = this.reply(recorded);
    if (reply.kind === 'response') {
      callback(null, reply.response);
    } else if (reply.kind === 'error') {
      const trailers = new Metadata();
      for (const [key, value] of Object.entries(reply.trailers ?? {})) {
        trailers.set(key, value);
      }
      callback({ code: reply.grpcCode, details: reply.details, metadata: trailers }, null);
    }
  }
}

function serviceEntries(
  definition: PackageDefinition,
): [string, Parameters<Server['addService']>[0]][] {
  return Object.entries(definition)
    .filter(([name, value]) => name.startsWith('coffer.v1.') && !('format' in value))
    .map(([name, value]) => [
      name.slice('coffer.v1.'.length),
      value as Parameters<Server['addService']>[0],
    ]);
}
