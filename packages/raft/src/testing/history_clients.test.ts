/**
 * Goal: history clients record every operation with its call and return times, pick gets,
 * puts and compare-and-sets from the value last read, record a throw as an unknown outcome,
 * and a history against a correct store passes the checker while one against a store that
 * loses writes fails it.
 * Method: an in-memory map as the store, a counter as the clock; no timers, no sleeps.
 */
import { describe, expect, it } from 'vitest';

import { startHistoryClients } from './history_clients.ts';
import { kvModel, type KvInput, type KvOutput } from './kv_model.ts';
import { checkOperations } from './linearizability.ts';

/** A store that applies each operation at once; `loseEvery` drops every n-th put. */
function memoryStore(options: { readonly loseEvery?: number; readonly failEvery?: number } = {}) {
  const values = new Map<string, string>();
  let puts = 0;
  let calls = 0;
  return async (_clientId: number, input: KvInput): Promise<KvOutput> => {
    // NB: a turn of the event loop per call, as a network call takes, so the test's wait runs.
    await new Promise<void>((resolve) => {
      setImmediate(resolve);
    });
    calls += 1;
    if (options.failEvery !== undefined && calls % options.failEvery === 0) {
      throw Object.assign(new Error('lost'), { code: 'TEST_LOST' });
    }
    if (input.kind === 'get') {
      return { value: values.get(input.key) };
    }
    if (input.kind === 'cas' && values.get(input.key) !== input.expected) {
      return { ok: false };
    }
    puts += 1;
    if (options.loseEvery === undefined || puts % options.loseEvery !== 0) {
      values.set(input.key, input.value);
    }
    return input.kind === 'cas' ? { ok: true } : {};
  };
}

async function run(execute: ReturnType<typeof memoryStore>, operations: number) {
  let now = 0;
  const clients = startHistoryClients({ clients: 3, keys: 2, execute, nowMs: () => (now += 1) });
  while (clients.history.length < operations) {
    await new Promise<void>((resolve) => {
      setImmediate(resolve);
    });
  }
  await clients.stop();
  return clients;
}

describe('startHistoryClients', () => {
  it('records gets, puts and compare-and-sets that pass the checker against a correct store', async () => {
    const { history, failures } = await run(memoryStore(), 200);
    expect(failures).toEqual([]);
    const kinds = new Set(history.map((op) => op.input.kind));
    expect([...kinds].sort()).toEqual(['cas', 'get', 'put']);
    expect(history.some((op) => op.input.kind === 'cas' && 'ok' in op.output && op.output.ok)).toBe(
      true,
    );
    expect(history.every((op) => op.returnTime > op.callTime)).toBe(true);
    expect(checkOperations(kvModel, history, { stepsMaxPerPartition: 1_000_000 }).verdict).toBe(
      'ok',
    );
  });

  it('records a throw as an unknown outcome that may or may not have happened', async () => {
    const { history, failures } = await run(memoryStore({ failEvery: 7 }), 100);
    expect(failures.length).toBeGreaterThan(0);
    expect(new Set(failures)).toEqual(new Set(['TEST_LOST']));
    const unknown = history.filter((op) => 'unknown' in op.output);
    expect(unknown).toHaveLength(failures.length);
    expect(unknown.every((op) => op.returnTime === Number.POSITIVE_INFINITY)).toBe(true);
    expect(checkOperations(kvModel, history, { stepsMaxPerPartition: 1_000_000 }).verdict).toBe(
      'ok',
    );
  });

  it('gives a history the checker refuses when the store loses acknowledged writes', async () => {
    const { history } = await run(memoryStore({ loseEvery: 3 }), 200);
    expect(checkOperations(kvModel, history, { stepsMaxPerPartition: 1_000_000 }).verdict).toBe(
      'illegal',
    );
  });
});
