/**
 * The Coffer side of the history clients (`startHistoryClients`, @coffer/raft/testing): each
 * key-value operation of the model as a KV v2 call through the client library, on
 * `<mount>/<prefix>/<key>` with the value in field `v`.
 *
 * A compare-and-set from value `expected` is a put with `cas` set to the version this client
 * read `expected` at (0: absent). Every value written is unique, so "the version is still that
 * one" and "the value is still `expected`" are the same condition. CAS_MISMATCH answers
 * `{ ok: false }`; NOT_FOUND reads as absent; any other error throws (an unknown outcome).
 */
import type { CofferClient } from '@coffer/client';
import {
  startHistoryClients,
  type HistoryClients,
  type KvInput,
  type KvOutput,
} from '@coffer/raft/testing';

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

/** One client's executor of model operations. */
export function cofferKvExecutor(
  client: CofferClient,
  where: { readonly mount: string; readonly prefix: string },
): (input: KvInput) => Promise<KvOutput> {
  /** `${key} ${value}` → the version this client read it at. */
  const versions = new Map<string, number>();
  return async (input) => {
    const target = { mount: where.mount, path: `${where.prefix}/${input.key}` };
    if (input.kind === 'get') {
      try {
        const read = await client.kv.get(target);
        const value = (read.data['data'] as { v?: string } | undefined)?.v;
        const version = (read.data['metadata'] as { version?: number } | undefined)?.version;
        if (value !== undefined && version !== undefined) {
          versions.set(`${input.key} ${value}`, version);
        }
        return { value };
      } catch (error) {
        if (codeOf(error) === 'COFFER_CORE_NOT_FOUND') {
          return { value: undefined };
        }
        throw error;
      }
    }
    if (input.kind === 'put') {
      await client.kv.put({ ...target, data: { v: input.value } });
      return {};
    }
    const cas = input.expected === undefined ? 0 : versions.get(`${input.key} ${input.expected}`);
    if (cas === undefined) {
      throw new Error('a compare-and-set from a value this client never read');
    }
    try {
      await client.kv.put({ ...target, data: { v: input.value }, cas });
      return { ok: true };
    } catch (error) {
      if (codeOf(error) === 'COFFER_CORE_CAS_MISMATCH') {
        return { ok: false };
      }
      throw error;
    }
  };
}

/** Running history clients, each with its own client library instance. */
export interface KvHistoryLoad extends HistoryClients {
  /** Stops the clients and closes their connections. */
  stop(): Promise<void>;
}

/**
 * Starts `count` history clients on three shared keys under `<mount>/shared/`, each through
 * its own client from `newClient` (one that knows every node, for a cluster).
 */
export function startKvHistory(options: {
  readonly count: number;
  readonly newClient: () => CofferClient;
  readonly mount?: string;
}): KvHistoryLoad {
  const clients = Array.from({ length: options.count }, () => options.newClient());
  const where = { mount: options.mount ?? 'secret', prefix: 'shared' };
  const executors = clients.map((client) => cofferKvExecutor(client, where));
  const running = startHistoryClients({
    clients: options.count,
    keys: 3,
    execute: (clientId, input) => {
      const execute = executors[clientId];
      if (execute === undefined) {
        throw new Error(`no executor for history client ${String(clientId)}`);
      }
      return execute(input);
    },
  });
  return {
    history: running.history,
    failures: running.failures,
    stop: async () => {
      await running.stop();
      for (const client of clients) {
        client.close();
      }
    },
  };
}
