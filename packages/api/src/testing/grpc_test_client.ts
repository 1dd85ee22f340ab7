/**
 * A raw grpc-js client for listener tests: calls any method by its full name with a message
 * (serialized with the package definition) or with raw bytes, over TLS that trusts one CA, and
 * answers with the decoded Response or the status, its details and the `coffer-error-code`
 * trailer. It imports nothing from the server, so it sees exactly what a client sees.
 */
import {
  Client,
  credentials,
  Metadata,
  type ServiceError,
  type ChannelOptions,
} from '@grpc/grpc-js';
import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';

import { loadCofferPackageDefinition } from '@coffer/client';

/** A served call: the decoded coffer.v1.Response. */
export interface CallAnswer {
  readonly ok: true;
  readonly response: Readonly<Record<string, unknown>>;
  /** `data_json` parsed (an empty object when ""). */
  readonly data: Readonly<Record<string, unknown>>;
}

/** A refused call. */
export interface CallRefusal {
  readonly ok: false;
  readonly status: number;
  readonly details: string;
  /** The `coffer-error-code` trailer, when the server set one. */
  readonly errorCode: string | undefined;
  readonly trailers: Metadata;
}

/** Per-call options. */
export interface TestCallOptions {
  readonly token?: string;
  readonly deadlineMs?: number;
  /** Extra metadata entries (set after the token). */
  readonly metadata?: Readonly<Record<string, string | Buffer>>;
  /** Called with the call object, e.g. to cancel it. */
  readonly onCall?: (call: { cancel(): void }) => void;
}

type AnyMethod = MethodDefinition<object, object>;

const definition: PackageDefinition = loadCofferPackageDefinition();

function findMethodDefinition(fullName: string): AnyMethod | undefined {
  const match = /^\/([^/]+)\/([^/]+)$/.exec(fullName);
  const service = definition[match?.[1] ?? ''] as Record<string, AnyMethod> | undefined;
  return service?.[match?.[2] ?? ''];
}

/** The method definition of a full name such as `/coffer.v1.Kv/Get`. */
export function methodDefinitionOf(fullName: string): AnyMethod {
  const method = findMethodDefinition(fullName);
  if (method === undefined) {
    throw new Error(`No method ${fullName} in the package definition`);
  }
  return method;
}

function refusalOf(error: ServiceError): CallRefusal {
  const [code] = error.metadata.get('coffer-error-code');
  return {
    ok: false,
    status: error.code,
    details: error.details,
    errorCode: typeof code === 'string' ? code : undefined,
    trailers: error.metadata,
  };
}

function answerOf(response: Record<string, unknown>): CallAnswer {
  const text = typeof response['data_json'] === 'string' ? response['data_json'] : '';
  const data = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  return { ok: true, response, data };
}

/** A client of one listener. */
export class GrpcTestClient {
  readonly #client: Client;

  /** Connects to `127.0.0.1:<port>` trusting `caPem`. */
  constructor(port: number, caPem: string, options: ChannelOptions = {}) {
    this.#client = new Client(
      `127.0.0.1:${port}`,
      credentials.createSsl(Buffer.from(caPem)),
      options,
    );
  }

  #metadata(options: TestCallOptions): Metadata {
    const metadata = new Metadata();
    if (options.token !== undefined) {
      metadata.set('coffer-token', options.token);
    }
    for (const [key, value] of Object.entries(options.metadata ?? {})) {
      metadata.add(key, value);
    }
    return metadata;
  }

  /** Calls `fullName` with `message`, serialized as the method's request type. */
  call(
    fullName: string,
    message: Readonly<Record<string, unknown>>,
    options: TestCallOptions = {},
  ): Promise<CallAnswer | CallRefusal> {
    const method = methodDefinitionOf(fullName);
    return this.raw(fullName, method.requestSerialize(message), options);
  }

  /**
   * Calls `fullName` with raw request bytes (the server decodes them). A method outside coffer.v1
   * (health, reflection) answers with its raw response bytes as `response.bytes`.
   */
  raw(
    fullName: string,
    bytes: Buffer,
    options: TestCallOptions = {},
  ): Promise<CallAnswer | CallRefusal> {
    const method = findMethodDefinition(fullName);
    const decode = (value: Buffer): Record<string, unknown> =>
      method === undefined
        ? { bytes: value }
        : (method.responseDeserialize(value) as Record<string, unknown>);
    const deadline = Date.now() + (options.deadlineMs ?? 20_000);
    return new Promise((resolve) => {
      const call = this.#client.makeUnaryRequest(
        fullName,
        (value: Buffer) => value,
        decode,
        bytes,
        this.#metadata(options),
        { deadline },
        (error, response) => {
          resolve(error === null ? answerOf(response ?? {}) : refusalOf(error));
        },
      );
      options.onCall?.(call);
    });
  }

  /** The channel's connectivity, connecting if idle (to wait for a connection). */
  waitForReady(deadlineMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#client.waitForReady(Date.now() + deadlineMs, (error) => {
        if (error === undefined) {
          resolve();
        } else {
          reject(error);
        }
      });
    });
  }

  close(): void {
    this.#client.close();
  }
}
