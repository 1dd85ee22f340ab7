// Goal: show that kvModel states the key-value store's sequential semantics (including unknown
// outcomes) and that, with checkOperations, it rejects the anomalies a broken Raft store shows:
// stale reads, lost writes, reads of values never written and CAS that succeeds twice.
// Method: unit tests of kvModel.step, partition and describeOperation; hand-written histories
// with a known verdict; and randomized histories that are linearizable by construction (each
// operation is applied to a reference map at a random instant inside its interval), made by a
// seeded mulberry32 generator, checked as they are and with one impossible read injected.

import { describe, expect, it } from 'vitest';

import { kvModel, kvUnknownOutput } from './kv_model.ts';
import type { KvInput, KvOperation, KvOutput } from './kv_model.ts';
import { checkOperations, describeResult } from './linearizability.ts';
import type { CheckOptions } from './linearizability.ts';

const options: CheckOptions = { stepsMaxPerPartition: 1_000_000 };

interface Call {
  readonly client: number;
  readonly times: readonly [number, number];
}

function op(call: Call, input: KvInput, output: KvOutput): KvOperation {
  const [callTime, returnTime] = call.times;
  return { clientId: call.client, input, callTime, output, returnTime };
}

function get(call: Call, key: string, value: string | undefined): KvOperation {
  return op(call, { kind: 'get', key }, { value });
}

function put(call: Call, key: string, value: string): KvOperation {
  return op(call, { kind: 'put', key, value }, {});
}

interface CasSpec {
  readonly key: string;
  readonly expected: string | undefined;
  readonly value: string;
}

function cas(call: Call, spec: CasSpec, ok: boolean): KvOperation {
  return op(call, { kind: 'cas', ...spec }, { ok });
}

function verdict(history: readonly KvOperation[]): string {
  return checkOperations(kvModel, history, options).verdict;
}

describe('kvModel', () => {
  it('kvModel.step accepts a get only when it returns the current value', () => {
    const getX: KvInput = { kind: 'get', key: 'x' };
    expect(kvModel.step('a', getX, { value: 'a' })).toEqual({ ok: true, state: 'a' });
    expect(kvModel.step('a', getX, { value: 'b' }).ok).toBe(false);
    expect(kvModel.step(undefined, getX, { value: undefined }).ok).toBe(true);
    expect(kvModel.step(undefined, getX, { value: '' }).ok).toBe(false);
  });

  it('kvModel.step swaps on cas only when the expected value matches', () => {
    const casX: KvInput = { kind: 'cas', key: 'x', expected: 'a', value: 'b' };
    expect(kvModel.step('a', casX, { ok: true })).toEqual({ ok: true, state: 'b' });
    expect(kvModel.step('a', casX, { ok: false })).toEqual({ ok: false, state: 'b' });
    expect(kvModel.step('c', casX, { ok: false })).toEqual({ ok: true, state: 'c' });
    expect(kvModel.step('c', casX, { ok: true }).ok).toBe(false);
    const casAbsent: KvInput = { kind: 'cas', key: 'x', expected: undefined, value: 'b' };
    expect(kvModel.step(undefined, casAbsent, { ok: true })).toEqual({ ok: true, state: 'b' });
  });

  it('kvModel.step accepts unknown outputs from any state and applies writes', () => {
    const casX: KvInput = { kind: 'cas', key: 'x', expected: 'a', value: 'b' };
    expect(kvModel.step('q', { kind: 'get', key: 'x' }, kvUnknownOutput)).toEqual({
      ok: true,
      state: 'q',
    });
    expect(kvModel.step('q', { kind: 'put', key: 'x', value: 'p' }, kvUnknownOutput)).toEqual({
      ok: true,
      state: 'p',
    });
    expect(kvModel.step('a', casX, kvUnknownOutput)).toEqual({ ok: true, state: 'b' });
    expect(kvModel.step('q', casX, kvUnknownOutput)).toEqual({ ok: true, state: 'q' });
  });

  it('kvModel.step throws RangeError for an output that does not fit the operation', () => {
    const getX: KvInput = { kind: 'get', key: 'x' };
    const casX: KvInput = { kind: 'cas', key: 'x', expected: 'a', value: 'b' };
    expect(() => kvModel.step('a', getX, { ok: true })).toThrow(RangeError);
    expect(() => kvModel.step('a', getX, {})).toThrow(RangeError);
    expect(() => kvModel.step('a', casX, { value: 'a' })).toThrow(RangeError);
    expect(() => kvModel.step('a', casX, {})).toThrow(RangeError);
  });

  it('kvModel.equal and kvModel.hash tell an absent key from every string', () => {
    expect(kvModel.equal(undefined, undefined)).toBe(true);
    expect(kvModel.equal(undefined, '')).toBe(false);
    expect(kvModel.hash(undefined)).not.toBe(kvModel.hash(''));
    expect(kvModel.hash(undefined)).not.toBe(kvModel.hash('absent'));
    expect(kvModel.hash('a')).toBe(kvModel.hash('a'));
  });

  it('kvModel.partition groups operations per key in first-seen order', () => {
    const history = [
      put({ client: 1, times: [0, 1] }, 'b', '1'),
      put({ client: 1, times: [2, 3] }, 'a', '2'),
      get({ client: 2, times: [4, 5] }, 'b', '1'),
    ];
    expect(kvModel.partition?.(history)).toEqual([[history[0], history[2]], [history[1]]]);
  });

  it('kvModel.describeOperation renders every kind of operation and unknown outputs', () => {
    const render = (input: KvInput, output: KvOutput): string | undefined =>
      kvModel.describeOperation?.(input, output);
    expect(render({ kind: 'get', key: 'k' }, { value: 'v' })).toBe('get("k") -> "v"');
    expect(render({ kind: 'get', key: 'k' }, { value: undefined })).toBe('get("k") -> undefined');
    expect(render({ kind: 'put', key: 'k', value: 'v' }, {})).toBe('put("k", "v") -> ok');
    expect(render({ kind: 'put', key: 'k', value: 'v' }, kvUnknownOutput)).toBe(
      'put("k", "v") -> unknown',
    );
    const casInput: KvInput = { kind: 'cas', key: 'k', expected: undefined, value: 'v' };
    expect(render(casInput, { ok: false })).toBe('cas("k", undefined => "v") -> false');
    expect(render(casInput, kvUnknownOutput)).toBe('cas("k", undefined => "v") -> unknown');
  });
});

describe('checkOperations with kvModel', () => {
  it('checkOperations rejects a stale read after a newer write completed', () => {
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', 'old'),
      put({ client: 1, times: [20, 30] }, 'x', 'new'),
      get({ client: 2, times: [40, 50] }, 'x', 'old'),
    ];
    expect(verdict(history)).toBe('illegal');
  });

  it('checkOperations rejects a lost write whose later reads see the value before it', () => {
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', 'a'),
      put({ client: 2, times: [20, 30] }, 'x', 'b'), // acknowledged, then lost
      get({ client: 3, times: [40, 50] }, 'x', 'a'),
      get({ client: 1, times: [60, 70] }, 'x', 'a'),
    ];
    expect(verdict(history)).toBe('illegal');
  });

  it('checkOperations rejects a read of a value never written', () => {
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', 'a'),
      get({ client: 2, times: [5, 15] }, 'x', 'ghost'),
    ];
    expect(verdict(history)).toBe('illegal');
  });

  it('checkOperations rejects a read of a value on a key it was never written to', () => {
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', 'a'),
      get({ client: 2, times: [20, 30] }, 'y', 'a'),
    ];
    expect(verdict(history)).toBe('illegal');
  });

  it('checkOperations rejects two successful CAS with the same expected value', () => {
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', 'v0'),
      cas({ client: 2, times: [20, 30] }, { key: 'x', expected: 'v0', value: 'v1' }, true),
      cas({ client: 3, times: [25, 35] }, { key: 'x', expected: 'v0', value: 'v2' }, true),
    ];
    expect(verdict(history)).toBe('illegal');
  });

  it('checkOperations accepts concurrent CAS where exactly one succeeds', () => {
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', 'v0'),
      cas({ client: 2, times: [20, 30] }, { key: 'x', expected: 'v0', value: 'v1' }, false),
      cas({ client: 3, times: [25, 35] }, { key: 'x', expected: 'v0', value: 'v2' }, true),
      get({ client: 1, times: [40, 50] }, 'x', 'v2'),
    ];
    expect(verdict(history)).toBe('ok');
  });

  it('checkOperations accepts reads that overlap a write and see either side of it', () => {
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', 'a'),
      put({ client: 1, times: [20, 60] }, 'x', 'b'),
      get({ client: 2, times: [25, 35] }, 'x', 'b'),
      get({ client: 3, times: [30, 70] }, 'x', 'b'),
      get({ client: 4, times: [15, 22] }, 'x', 'a'),
      get({ client: 5, times: [61, 65] }, 'x', 'b'),
    ];
    expect(verdict(history)).toBe('ok');
  });

  it('checkOperations rejects a read that goes back in time during an overlapping write', () => {
    // Reads by clients 2 and 3 do not overlap each other: once 'b' is seen, 'a' is gone.
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', 'a'),
      put({ client: 1, times: [20, 60] }, 'x', 'b'),
      get({ client: 2, times: [25, 30] }, 'x', 'b'),
      get({ client: 3, times: [35, 40] }, 'x', 'a'),
    ];
    expect(verdict(history)).toBe('illegal');
  });

  it('checkOperations accepts an unknown put that took effect', () => {
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', 'a'),
      op(
        { client: 2, times: [20, Infinity] },
        { kind: 'put', key: 'x', value: 'b' },
        kvUnknownOutput,
      ),
      get({ client: 3, times: [40, 50] }, 'x', 'b'),
      get({ client: 3, times: [60, 70] }, 'x', 'b'),
    ];
    expect(verdict(history)).toBe('ok');
  });

  it('checkOperations accepts an unknown put that never took effect', () => {
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', 'a'),
      op(
        { client: 2, times: [20, Infinity] },
        { kind: 'put', key: 'x', value: 'b' },
        kvUnknownOutput,
      ),
      get({ client: 3, times: [40, 50] }, 'x', 'a'),
      put({ client: 3, times: [60, 70] }, 'x', 'c'),
      get({ client: 4, times: [80, 90] }, 'x', 'c'),
    ];
    expect(verdict(history)).toBe('ok');
  });

  it('checkOperations accepts an unknown put that took effect late, after later writes', () => {
    // The request sat in a leader's log and was applied after the client gave up.
    const history = [
      op(
        { client: 2, times: [0, Infinity] },
        { kind: 'put', key: 'x', value: 'late' },
        kvUnknownOutput,
      ),
      put({ client: 1, times: [10, 20] }, 'x', 'a'),
      get({ client: 3, times: [30, 40] }, 'x', 'a'),
      get({ client: 3, times: [50, 60] }, 'x', 'late'),
    ];
    expect(verdict(history)).toBe('ok');
  });

  it('checkOperations rejects a value from an unknown put that flickers in and out', () => {
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', 'a'),
      op(
        { client: 2, times: [20, Infinity] },
        { kind: 'put', key: 'x', value: 'b' },
        kvUnknownOutput,
      ),
      get({ client: 3, times: [40, 50] }, 'x', 'b'),
      get({ client: 3, times: [60, 70] }, 'x', 'a'),
    ];
    expect(verdict(history)).toBe('illegal');
  });

  it('checkOperations accepts unknown CAS and get operations either way', () => {
    const casB: KvInput = { kind: 'cas', key: 'x', expected: 'a', value: 'b' };
    const tookEffect = [
      put({ client: 1, times: [0, 10] }, 'x', 'a'),
      op({ client: 2, times: [20, Infinity] }, casB, kvUnknownOutput),
      op({ client: 4, times: [25, Infinity] }, { kind: 'get', key: 'x' }, kvUnknownOutput),
      get({ client: 3, times: [40, 50] }, 'x', 'b'),
    ];
    const noEffect = [...tookEffect.slice(0, 3), get({ client: 3, times: [40, 50] }, 'x', 'a')];
    expect(verdict(tookEffect)).toBe('ok');
    expect(verdict(noEffect)).toBe('ok');
  });

  it('checkOperations accepts a multi-key history and rejects it when one key goes wrong', () => {
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', '1'),
      put({ client: 2, times: [0, 10] }, 'y', '2'),
      get({ client: 3, times: [5, 15] }, 'z', undefined),
      get({ client: 1, times: [20, 30] }, 'y', '2'),
      get({ client: 2, times: [20, 30] }, 'x', '1'),
    ];
    expect(verdict(history)).toBe('ok');
    const broken = [...history, get({ client: 3, times: [40, 50] }, 'y', undefined)];
    const result = checkOperations(kvModel, broken, options);
    expect(result).toMatchObject({ verdict: 'illegal', partitionIndex: 1 });
  });

  it('checkOperations returns unknown under a tiny step budget', () => {
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', 'a'),
      put({ client: 2, times: [0, 10] }, 'x', 'b'),
      get({ client: 3, times: [20, 30] }, 'x', 'b'),
    ];
    const result = checkOperations(kvModel, history, { stepsMaxPerPartition: 2 });
    expect(result).toEqual({ verdict: 'unknown', partitionIndex: 0, reason: 'steps' });
  });

  it('describeResult explains a stale read with the key-value notation', () => {
    const history = [
      put({ client: 1, times: [0, 10] }, 'x', 'old'),
      put({ client: 1, times: [20, 30] }, 'x', 'new'),
      get({ client: 2, times: [40, 50] }, 'x', 'old'),
    ];
    const text = describeResult(kvModel, checkOperations(kvModel, history, options));
    expect(text).toContain('Could not linearize: client 2 [40, 50] get("x") -> "old"');
  });
});

/** mulberry32: a 32-bit seeded generator; returns floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface GenerateOptions {
  readonly seed: number;
  readonly clientCount: number;
  readonly keyCount: number;
  readonly operationCount: number;
  /** Chance that an operation never gets an answer (half of those still take effect). */
  readonly unknownRatio: number;
}

/** An operation being generated, before its output is known. */
interface Draft {
  readonly clientId: number;
  readonly callTime: number;
  readonly returnTime: number;
  /** When it takes effect; +Infinity when it never does. */
  readonly effectTime: number;
  readonly unknown: boolean;
}

/**
 * Makes a linearizable history by construction: clients issue operations one at a time with
 * random overlapping intervals, each takes effect at a random instant inside its interval (or,
 * for some unknown ones, never), and outputs come from replaying them in effect order.
 */
function generateHistory(options: GenerateOptions): KvOperation[] {
  const random = mulberry32(options.seed);
  const drafts = draftIntervals(options, random);
  const order = drafts.map((_, index) => index);
  order.sort((a, b) => (drafts[a]?.effectTime ?? 0) - (drafts[b]?.effectTime ?? 0) || a - b);
  const values = new Map<string, string>();
  const history: KvOperation[] = new Array<KvOperation>(drafts.length);
  for (const index of order) {
    const draft = drafts[index];
    if (draft === undefined) {
      continue;
    }
    const key = `k${String(Math.floor(random() * options.keyCount))}`;
    const input = drawInput({ key, current: values.get(key), index }, random);
    const applied = Number.isFinite(draft.effectTime);
    const output = draft.unknown ? kvUnknownOutput : applyInput(values, input);
    if (draft.unknown && applied) {
      applyInput(values, input);
    }
    const { clientId, callTime, returnTime } = draft;
    history[index] = { clientId, input, callTime, output, returnTime };
  }
  return history;
}

function draftIntervals(options: GenerateOptions, random: () => number): Draft[] {
  const freeAt = new Array<number>(options.clientCount).fill(0);
  const clientIds = freeAt.map((_, slot) => slot);
  let nextClientId = options.clientCount;
  const drafts: Draft[] = [];
  for (let index = 0; index < options.operationCount; index += 1) {
    const slot = Math.floor(random() * options.clientCount);
    const callTime = (freeAt[slot] ?? 0) + Math.floor(random() * 4);
    const duration = 1 + Math.floor(random() * 30);
    const returnTime = callTime + duration;
    const unknown = random() < options.unknownRatio;
    const effectTime = unknown && random() < 0.5 ? Infinity : callTime + random() * duration;
    const clientId = clientIds[slot] ?? slot;
    drafts.push({
      clientId,
      callTime,
      returnTime: unknown ? Infinity : returnTime,
      effectTime,
      unknown,
    });
    freeAt[slot] = returnTime + 1;
    if (unknown) {
      // A client that lost its answer reconnects as a new client.
      clientIds[slot] = nextClientId;
      nextClientId += 1;
    }
  }
  return drafts;
}

interface InputContext {
  readonly key: string;
  readonly current: string | undefined;
  readonly index: number;
}

function drawInput(context: InputContext, random: () => number): KvInput {
  const { key, current, index } = context;
  const draw = random();
  if (draw < 0.5) {
    return { kind: 'get', key };
  }
  if (draw < 0.8) {
    return { kind: 'put', key, value: `v${String(index)}` };
  }
  // Half of the CAS expect the current value and succeed unless another write races them.
  const expected = random() < 0.5 ? current : `v${String(Math.floor(random() * index))}`;
  return { kind: 'cas', key, expected, value: `c${String(index)}` };
}

/** Applies `input` to the reference map and returns the output the store would give. */
function applyInput(values: Map<string, string>, input: KvInput): KvOutput {
  const current = values.get(input.key);
  switch (input.kind) {
    case 'get':
      return { value: current };
    case 'put':
      values.set(input.key, input.value);
      return {};
    case 'cas': {
      const swaps = current === input.expected;
      if (swaps) {
        values.set(input.key, input.value);
      }
      return { ok: swaps };
    }
  }
}

/** Replaces the output of the first answered get with a value no operation ever wrote. */
function injectImpossibleRead(history: readonly KvOperation[]): KvOperation[] {
  const index = history.findIndex(
    (entry) => entry.input.kind === 'get' && entry.output.unknown !== true,
  );
  expect(index).toBeGreaterThanOrEqual(0);
  return history.map((entry, i) =>
    i === index ? { ...entry, output: { value: 'never-written' } } : entry,
  );
}

/**
 * Makes one answered get stale: it returns the value of a put that a later put overwrote before
 * the get was called. Values are unique, so no order can explain it.
 */
function injectStaleRead(history: readonly KvOperation[]): KvOperation[] {
  const answeredPuts = history.filter(
    (entry) => entry.input.kind === 'put' && entry.output.unknown !== true,
  );
  for (const [index, entry] of history.entries()) {
    if (entry.input.kind !== 'get' || entry.output.unknown === true) {
      continue;
    }
    const key = entry.input.key;
    const before = answeredPuts.filter((p) => p.input.key === key && p.returnTime < entry.callTime);
    const stale = before.find((p) => before.some((later) => later.callTime > p.returnTime));
    if (stale !== undefined && stale.input.kind === 'put') {
      const output: KvOutput = { value: stale.input.value };
      return history.map((other, i) => (i === index ? { ...other, output } : other));
    }
  }
  throw new Error('Cannot inject a stale read: no get follows two sequential puts on its key');
}

describe('checkOperations with kvModel on generated histories', () => {
  const base: GenerateOptions = {
    seed: 1,
    clientCount: 8,
    keyCount: 20,
    operationCount: 2_000,
    unknownRatio: 0.02,
  };

  it('generateHistory makes overlapping operations and some unknown outcomes', () => {
    const history = generateHistory(base);
    expect(history).toHaveLength(2_000);
    const unknownCount = history.filter((entry) => entry.output.unknown === true).length;
    expect(unknownCount).toBeGreaterThan(10);
    const sorted = [...history].sort((a, b) => a.callTime - b.callTime);
    const overlapping = sorted.filter((entry, i) => {
      const next = sorted[i + 1];
      return next !== undefined && next.callTime < entry.returnTime;
    });
    expect(overlapping.length).toBeGreaterThan(1_000);
  });

  it('checkOperations accepts generated linearizable histories for several seeds', () => {
    for (const seed of [1, 2, 3, 42, 1234]) {
      const history = generateHistory({ ...base, seed });
      const result = checkOperations(kvModel, history, options);
      expect(result.verdict, `seed ${String(seed)}: ${describeResult(kvModel, result)}`).toBe('ok');
    }
  });

  it('checkOperations rejects a generated history with one impossible read injected', () => {
    for (const seed of [1, 2, 3]) {
      const history = injectImpossibleRead(generateHistory({ ...base, seed }));
      const result = checkOperations(kvModel, history, options);
      expect(result.verdict).toBe('illegal');
      expect(describeResult(kvModel, result)).toContain('-> "never-written"');
    }
  });

  it('checkOperations rejects a generated history with one stale read injected', () => {
    for (const seed of [1, 2, 3]) {
      const history = injectStaleRead(generateHistory({ ...base, seed }));
      const result = checkOperations(kvModel, history, options);
      expect(result.verdict).toBe('illegal');
    }
  });

  it('checkOperations accepts 8 clients hammering 2 keys within a modest step budget', () => {
    // At most 8 operations in flight per key: the hard case for the search.
    const history = generateHistory({ ...base, keyCount: 2, unknownRatio: 0.002, seed: 7 });
    const result = checkOperations(kvModel, history, { stepsMaxPerPartition: 200_000 });
    expect(result.verdict, describeResult(kvModel, result)).toBe('ok');
  });

  it('checkOperations accepts 2000 operations over 50 keys within a small step budget', () => {
    const history = generateHistory({ ...base, keyCount: 50, seed: 99 });
    const result = checkOperations(kvModel, history, { stepsMaxPerPartition: 20_000 });
    expect(result.verdict, describeResult(kvModel, result)).toBe('ok');
  });
});
