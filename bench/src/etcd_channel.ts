/**
 * One gRPC channel (one TLS connection) to one etcd member, with grpc-js like Coffer's load:
 * KV Put and Range and Maintenance Status, encoded by etcd_codec.ts. No metadata: the etcd
 * cluster runs without auth, as its production TLS setup does by default.
 */
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';

import {
  decodePutResponse,
  decodeRangeResponse,
  decodeStatusResponse,
  encodePutRequest,
  encodeRangeRequest,
  encodeStatusRequest,
  type EtcdHeader,
  type EtcdStatus,
} from './etcd_codec.ts';

const identity = (buffer: Buffer): Buffer => buffer;

/** A channel to one etcd member. */
export class EtcdChannel {
  readonly address: string;
  readonly #client: Client;
  readonly #metadata = new Metadata();

  constructor(address: string, caPem: string, channelIndex: number) {
    this.address = address;
    this.#client = new Client(address, credentials.createSsl(Buffer.from(caPem)), {
      // NB: distinct options keep grpc-js from sharing one subchannel between the channels.
      'grpc.bench_channel': channelIndex,
    });
  }

  #unary<T>(
    method: string,
    request: Buffer,
    call: { decode: (buffer: Buffer) => T; deadlineMs: number | undefined },
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const options =
        call.deadlineMs === undefined ? {} : { deadline: Date.now() + call.deadlineMs };
      this.#client.makeUnaryRequest(
        method,
        identity,
        call.decode,
        request,
        this.#metadata,
        options,
        (error: ServiceError | null, value?: T) => {
          if (error === null && value !== undefined) {
            resolve(value);
          } else {
            reject(error ?? new Error(`bench:cluster: ${method} answered nothing`));
          }
        },
      );
    });
  }

  put(key: Buffer, value: Buffer, deadlineMs?: number): Promise<EtcdHeader> {
    return this.#unary('/etcdserverpb.KV/Put', encodePutRequest(key, value), {
      decode: decodePutResponse,
      deadlineMs,
    });
  }

  /** A linearizable (serializable false) or serializable range of one key. */
  range(key: Buffer, serializable: boolean): Promise<{ header: EtcdHeader; values: Buffer[] }> {
    return this.#unary('/etcdserverpb.KV/Range', encodeRangeRequest(key, serializable), {
      decode: decodeRangeResponse,
      deadlineMs: undefined,
    });
  }

  status(deadlineMs = 2000): Promise<EtcdStatus> {
    return this.#unary('/etcdserverpb.Maintenance/Status', encodeStatusRequest(), {
      decode: decodeStatusResponse,
      deadlineMs,
    });
  }

  close(): void {
    this.#client.close();
  }
}
