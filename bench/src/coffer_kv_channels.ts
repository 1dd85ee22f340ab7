/**
 * Coffer's KV service called directly with grpc-js, the way api_bench.ts does: the client's
 * .proto files through @coffer/client's package definition, one channel (one TLS connection)
 * per client, the token in `coffer-token` metadata. The cluster benchmark's Coffer load and its
 * no-op baseline (api_bench_server.ts echo) both go through here.
 */
import { loadCofferPackageDefinition } from '@coffer/client';
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  type Client,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';

import type { Send } from './closed_loop.ts';
import { benchValue, keyOf, type LoadTarget, type Operation } from './cluster_system.ts';

type KvClient = Client & Record<string, (...args: unknown[]) => unknown>;

let kvConstructor: ServiceClientConstructor | undefined;

function kvService(): ServiceClientConstructor {
  if (kvConstructor === undefined) {
    const loaded = loadPackageDefinition(loadCofferPackageDefinition());
    kvConstructor = (loaded['coffer'] as unknown as { v1: { Kv: ServiceClientConstructor } }).v1.Kv;
  }
  return kvConstructor;
}

/** The JSON text of every KV v2 write: `{"value": <128 bytes>}`. */
const dataJson = JSON.stringify({ value: benchValue });

/** Whether a KV v2 read's answer holds the value written (the same check as etcd's reads). */
function holdsValue(response: unknown): boolean {
  const json = (response as { data_json?: unknown } | undefined)?.data_json;
  return typeof json === 'string' && json.includes(benchValue);
}

function sender(client: KvClient, operation: Operation, metadata: Metadata): Send {
  const method = operation === 'read' ? 'Get' : 'Put';
  const send = client[method];
  if (send === undefined) {
    throw new Error(`bench:cluster: the Coffer KV client has no ${method}`);
  }
  return (index) =>
    new Promise<void>((resolve, reject) => {
      const path = keyOf(index);
      const request =
        operation === 'read'
          ? { mount: 'secret', path }
          : { mount: 'secret', path, data_json: dataJson };
      send.call(client, request, metadata, (error: Error | null, response?: unknown) => {
        if (error !== null) {
          reject(error);
        } else if (operation === 'read' && !holdsValue(response)) {
          reject(new Error(`bench:cluster: Coffer read ${path} without its value`));
        } else {
          resolve();
        }
      });
    });
}

/** What a Coffer KV target needs. */
export interface CofferKvTargetOptions {
  readonly operation: Operation;
  /** API addresses; channel i goes to address i mod n. */
  readonly addresses: readonly string[];
  readonly channels: number;
  readonly caPem: string;
  /** The token, sent in metadata; absent for the no-op server. Secret: memory only. */
  readonly token?: string;
}

/** Senders of KV v2 gets or puts over fresh channels. */
export function cofferKvTarget(options: CofferKvTargetOptions): LoadTarget {
  const Kv = kvService();
  const metadata = new Metadata();
  if (options.token !== undefined) {
    metadata.set('coffer-token', options.token);
  }
  const clients = Array.from({ length: options.channels }, (_, i) => {
    const address = options.addresses[i % options.addresses.length] ?? '';
    return new Kv(address, credentials.createSsl(Buffer.from(options.caPem)), {
      // NB: distinct options keep grpc-js from sharing one subchannel between the clients.
      'grpc.bench_channel': i,
    }) as unknown as KvClient;
  });
  return {
    senders: clients.map((client) => sender(client, options.operation, metadata)),
    close: () => {
      for (const client of clients) {
        client.close();
      }
    },
  };
}
