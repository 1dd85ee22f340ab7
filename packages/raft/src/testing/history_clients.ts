/**
 * Clients that drive a key-value store with gets, puts and compare-and-sets on a few shared keys
 * and record the history for the linearizability checker (kv_model.ts). What a call does is the
 * caller's `execute` (a real cluster behind a client library, say); this module only picks the
 * operations, times them and records them.
 *
 * Each client cycles over the keys; on a key it reads, then writes a value unique to it
 * (`c<client>-<n>`), alternately by put and by compare-and-set from the value it read last. A
 * call that throws is recorded with the unknown output and an infinite return time: it may or
 * may not have happened, and the checker tries both.
 */
import { kvUnknownOutput, type KvInput, type KvOperation, type KvOutput } from './kv_model.ts';

/** What the history clients need. */
export interface HistoryClientsOptions {
  /** How many clients run at once. */
  readonly clients: number;
  /** How many shared keys (`k0`, `k1`, ...) they share. */
  readonly keys: number;
  /** Runs one operation for client `clientId`; throws when the answer is unknown. */
  readonly execute: (clientId: number, input: KvInput) => Promise<KvOutput>;
  /** The time base of the history, ms; default Date.now. */
  readonly nowMs?: () => number;
}

/** Running history clients. */
export interface HistoryClients {
  /** The operations so far, completed or unknown. */
  readonly history: readonly KvOperation[];
  /** The error code (or 'unknown') of every call that threw, in order. */
  readonly failures: readonly string[];
  /** Stops the clients after their current call; resolves once all have stopped. */
  stop(): Promise<void>;
}

/** The next operation of a client: a get, a put or a compare-and-set on key `key`. */
function nextInput(
  next: { readonly step: number; readonly key: string; readonly value: string },
  lastRead: ReadonlyMap<string, string | undefined>,
): KvInput {
  const { key, value } = next;
  switch (next.step % 4) {
    case 1:
      return { kind: 'put', key, value };
    case 3:
      return { kind: 'cas', key, expected: lastRead.get(key), value };
    default:
      return { kind: 'get', key };
  }
}

/** Starts `clients` history clients; stop them with `stop()`. */
export function startHistoryClients(options: HistoryClientsOptions): HistoryClients {
  const nowMs = options.nowMs ?? Date.now;
  const started = nowMs();
  const history: KvOperation[] = [];
  const failures: string[] = [];
  let stopping = false;
  const run = async (clientId: number): Promise<void> => {
    const lastRead = new Map<string, string | undefined>();
    for (let n = 0; !stopping; n++) {
      const key = `k${String(Math.floor(n / 4) % options.keys)}`;
      const input = nextInput(
        { step: n, key, value: `c${String(clientId)}-${String(n)}` },
        lastRead,
      );
      const callTime = nowMs() - started;
      try {
        const output = await options.execute(clientId, input);
        if (input.kind === 'get' && 'value' in output) {
          lastRead.set(key, output.value);
        }
        history.push({ clientId, input, callTime, output, returnTime: nowMs() - started });
      } catch (error) {
        const code = (error as { code?: unknown } | null)?.code;
        failures.push(typeof code === 'string' ? code : 'unknown');
        history.push({
          clientId,
          input,
          callTime,
          output: kvUnknownOutput,
          returnTime: Number.POSITIVE_INFINITY,
        });
      }
    }
  };
  const running = Array.from({ length: options.clients }, (_, clientId) => run(clientId));
  return {
    history,
    failures,
    stop: async () => {
      stopping = true;
      await Promise.all(running);
    },
  };
}
