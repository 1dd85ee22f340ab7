/**
 * A sequential key-value model for the linearizability checker: get, put and compare-and-set on
 * string values, partitioned per key so each key is checked on its own.
 *
 * @module
 */

import type { Model, Operation } from './linearizability.ts';

/** Reads the value of `key`. */
export interface KvGetInput {
  readonly kind: 'get';
  readonly key: string;
}

/** Sets `key` to `value`. */
export interface KvPutInput {
  readonly kind: 'put';
  readonly key: string;
  readonly value: string;
}

/** Sets `key` to `value` if its current value is `expected` (undefined: the key is absent). */
export interface KvCasInput {
  readonly kind: 'cas';
  readonly key: string;
  readonly expected: string | undefined;
  readonly value: string;
}

/** An operation a client sends to the key-value store. */
export type KvInput = KvGetInput | KvPutInput | KvCasInput;

/** The answer to a get: the value read, undefined when the key is absent. */
export interface KvGetOutput {
  readonly value: string | undefined;
  readonly unknown?: never;
}

/** The answer to a put: an empty object `{}`. */
export interface KvPutOutput {
  readonly value?: never;
  readonly ok?: never;
  readonly unknown?: never;
}

/** The answer to a compare-and-set: whether it swapped the value. */
export interface KvCasOutput {
  readonly ok: boolean;
  readonly unknown?: never;
}

/**
 * The output of an operation whose answer never came (timeout, crash, lost connection). The model
 * accepts it from any state: a put or cas applies as usual, a get constrains nothing. Record such
 * an operation with `returnTime: Number.POSITIVE_INFINITY` so the checker may also treat it as
 * never having happened (see {@link Operation}).
 */
export interface KvUnknownOutput {
  readonly unknown: true;
}

/** The answer a client got for a {@link KvInput}. */
export type KvOutput = KvGetOutput | KvPutOutput | KvCasOutput | KvUnknownOutput;

/** The state of one key: its value, or undefined while it is absent. */
export type KvState = string | undefined;

/** One key-value operation in a history. */
export type KvOperation = Operation<KvInput, KvOutput>;

/** The output to record for an operation whose answer never came. */
export const kvUnknownOutput: KvUnknownOutput = { unknown: true };

/** The sequential specification of the key-value store, with one partition per key. */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => undefined,
  step: stepKv,
  equal: (a, b) => a === b,
  hash: (state) => (state === undefined ? 'absent' : `value:${state}`),
  partition: partitionByKey,
  describeOperation: describeKvOperation,
};

function stepKv(state: KvState, input: KvInput, output: KvOutput): { ok: boolean; state: KvState } {
  const unknown = output.unknown === true;
  switch (input.kind) {
    case 'get': {
      if (unknown) {
        return { ok: true, state };
      }
      if (!('value' in output)) {
        throw new RangeError(`Cannot step get "${input.key}": its output has no value field`);
      }
      return { ok: output.value === state, state };
    }
    case 'put':
      return { ok: true, state: input.value };
    case 'cas': {
      const swaps = state === input.expected;
      const stateAfter = swaps ? input.value : state;
      if (unknown) {
        return { ok: true, state: stateAfter };
      }
      if (!('ok' in output) || typeof output.ok !== 'boolean') {
        throw new RangeError(`Cannot step cas "${input.key}": its output has no boolean ok field`);
      }
      return { ok: output.ok === swaps, state: stateAfter };
    }
  }
}

function partitionByKey(history: readonly KvOperation[]): KvOperation[][] {
  const byKey = new Map<string, KvOperation[]>();
  for (const op of history) {
    const partition = byKey.get(op.input.key);
    if (partition === undefined) {
      byKey.set(op.input.key, [op]);
    } else {
      partition.push(op);
    }
  }
  return [...byKey.values()];
}

function describeKvOperation(input: KvInput, output: KvOutput): string {
  const unknown = output.unknown === true;
  switch (input.kind) {
    case 'get': {
      const result = unknown || !('value' in output) ? 'unknown' : formatValue(output.value);
      return `get(${formatValue(input.key)}) -> ${result}`;
    }
    case 'put':
      return `put(${formatValue(input.key)}, ${formatValue(input.value)}) -> ${unknown ? 'unknown' : 'ok'}`;
    case 'cas': {
      const result = unknown || !('ok' in output) ? 'unknown' : String(output.ok);
      const swap = `${formatValue(input.expected)} => ${formatValue(input.value)}`;
      return `cas(${formatValue(input.key)}, ${swap}) -> ${result}`;
    }
  }
}

function formatValue(value: string | undefined): string {
  return value === undefined ? 'undefined' : JSON.stringify(value);
}
