/**
 * A test double of the client: records every call (service, method, arguments) and the
 * options it was opened with, and answers each method with a response (or error) set by the
 * test, else an empty response. Commands run against it in-process, without a server.
 */
import type { CofferClientOptions, CofferResponse } from '@coffer/client';

import type { CliClient } from '../cli_context.ts';

/** One recorded call. */
export interface RecordedCall {
  /** `sys`, `auth`, `kv`, `policies`, `leases`, `audit`, `mounts` or `logical`. */
  readonly service: string;
  readonly method: string;
  readonly args: readonly unknown[];
}

/** What a method answers: a response, an error to throw, or a function of the arguments. */
export type Answer =
  | Partial<CofferResponse>
  | { readonly error: Error }
  | ((args: readonly unknown[]) => Partial<CofferResponse>);

const services = ['sys', 'auth', 'kv', 'policies', 'leases', 'audit', 'mounts', 'logical'];

/** A response with the defaults filled in. */
export function response(partial: Partial<CofferResponse> = {}): CofferResponse {
  return {
    requestId: 'req-1',
    data: {},
    lease: undefined,
    auth: undefined,
    wrapInfo: undefined,
    warnings: [],
    ...partial,
  };
}

/** Records calls and answers them. */
export class ClientDouble {
  readonly calls: RecordedCall[] = [];
  readonly opened: CofferClientOptions[] = [];
  closed = 0;
  readonly #answers = new Map<string, Answer>();
  #fallback: Answer | undefined;

  /** Sets the answer of `service.method`, e.g. `answer('kv.get', {data: {...}})`. */
  answer(name: string, answer: Answer): this {
    this.#answers.set(name, answer);
    return this;
  }

  /** Sets the answer of every method without its own (e.g. an error for all). */
  answerAll(answer: Answer): this {
    this.#fallback = answer;
    return this;
  }

  /** The calls of `service.method`. */
  callsOf(name: string): RecordedCall[] {
    return this.calls.filter((call) => `${call.service}.${call.method}` === name);
  }

  #call(service: string, method: string, args: readonly unknown[]): Promise<CofferResponse> {
    this.calls.push({ service, method, args });
    const answer = this.#answers.get(`${service}.${method}`) ?? this.#fallback;
    if (answer === undefined) {
      return Promise.resolve(response());
    }
    if (typeof answer === 'function') {
      return Promise.resolve(response(answer(args)));
    }
    if ('error' in answer) {
      return Promise.reject(answer.error);
    }
    return Promise.resolve(response(answer));
  }

  /** The factory to put in a CliContext. */
  readonly factory = (options: CofferClientOptions): CliClient => {
    this.opened.push(options);
    const client: Record<string, unknown> = {
      close: () => {
        this.closed += 1;
      },
    };
    for (const service of services) {
      client[service] = new Proxy(
        {},
        {
          get:
            (_target, method) =>
            (...args: unknown[]) =>
              this.#call(service, String(method), args),
        },
      );
    }
    return client as unknown as CliClient;
  };
}

/** An error shaped as CofferClientError: a code, a gRPC code, a message. */
export function clientError(code: string, message: string, grpcCode = 7): Error {
  return Object.assign(new Error(message), { name: 'CofferClientError', code, grpcCode });
}
