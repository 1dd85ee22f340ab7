// Goal: show that checkOperations decides linearizability correctly and within its budgets,
// independently of any real store.
// Method: a tiny model of numbered registers (each register its own partition) and hand-written
// histories whose verdicts follow from the definition of linearizability: every operation takes
// effect at one instant between its call and its return. Clocks are fake; no test sleeps.

import { describe, expect, it } from 'vitest';

import { checkOperations, describeResult } from './linearizability.ts';
import type { CheckOptions, Model, Operation } from './linearizability.ts';

type RegisterInput =
  | { readonly kind: 'write'; readonly register: number; readonly value: number }
  | { readonly kind: 'read'; readonly register: number };

/** A read returns the value; a write returns 'done'; 'unknown' matches anything. */
type RegisterOutput = number | 'done' | 'unknown';

type RegisterOperation = Operation<RegisterInput, RegisterOutput>;

/** A register per number, all starting at 0, as one partition. */
const registerCore: Model<number, RegisterInput, RegisterOutput> = {
  init: () => 0,
  step: (state, input, output) => {
    if (input.kind === 'write') {
      return { ok: true, state: input.value };
    }
    return { ok: output === 'unknown' || output === state, state };
  },
  equal: (a, b) => a === b,
  hash: (state) => String(state),
};

/** The registers partitioned by number, with readable operations. */
const registerModel: Model<number, RegisterInput, RegisterOutput> = {
  ...registerCore,
  partition: (history) => {
    const byRegister = new Map<number, RegisterOperation[]>();
    for (const op of history) {
      const partition = byRegister.get(op.input.register) ?? [];
      partition.push(op);
      byRegister.set(op.input.register, partition);
    }
    return [...byRegister.values()];
  },
  describeOperation: (input, output) =>
    input.kind === 'write'
      ? `write(r${String(input.register)}, ${String(input.value)}) -> ${String(output)}`
      : `read(r${String(input.register)}) -> ${String(output)}`,
};

const options: CheckOptions = { stepsMaxPerPartition: 1_000_000 };

interface OpSpec {
  readonly client: number;
  readonly times: readonly [number, number];
  readonly register?: number;
}

function write(spec: OpSpec, value: number, output: RegisterOutput = 'done'): RegisterOperation {
  const [callTime, returnTime] = spec.times;
  const register = spec.register ?? 0;
  return {
    clientId: spec.client,
    input: { kind: 'write', register, value },
    callTime,
    output,
    returnTime,
  };
}

function read(spec: OpSpec, output: RegisterOutput): RegisterOperation {
  const [callTime, returnTime] = spec.times;
  const register = spec.register ?? 0;
  return { clientId: spec.client, input: { kind: 'read', register }, callTime, output, returnTime };
}

/** n writes of 1..n that all overlap, then a read at the end that returns `readValue`. */
function wideHistory(writeCount: number, readValue: number): RegisterOperation[] {
  const history: RegisterOperation[] = [];
  for (let i = 1; i <= writeCount; i += 1) {
    history.push(write({ client: i, times: [i, 1000 + i] }, i));
  }
  history.push(read({ client: 0, times: [5000, 5001] }, readValue));
  return history;
}

describe('checkOperations', () => {
  it('checkOperations accepts an empty history', () => {
    expect(checkOperations(registerModel, [], options)).toEqual({ verdict: 'ok' });
  });

  it('checkOperations accepts a sequential history that follows the model', () => {
    const history = [
      read({ client: 1, times: [0, 1] }, 0),
      write({ client: 1, times: [2, 3] }, 5),
      read({ client: 2, times: [4, 5] }, 5),
      write({ client: 2, times: [6, 7] }, 6),
      read({ client: 1, times: [8, 9] }, 6),
    ];
    expect(checkOperations(registerModel, history, options).verdict).toBe('ok');
  });

  it('checkOperations accepts overlapping writes observed in the opposite order of their calls', () => {
    // write(2) is called after write(1) but may take effect first; the reads pin write(1) last.
    const history = [
      write({ client: 1, times: [0, 10] }, 1),
      write({ client: 2, times: [1, 10] }, 2),
      read({ client: 3, times: [2, 4] }, 2),
      read({ client: 4, times: [11, 12] }, 1),
    ];
    expect(checkOperations(registerModel, history, options).verdict).toBe('ok');
  });

  it('checkOperations rejects a read of an old value after a newer write completed', () => {
    const history = [
      write({ client: 1, times: [0, 1] }, 1),
      write({ client: 1, times: [2, 3] }, 2),
      read({ client: 2, times: [4, 5] }, 1),
    ];
    expect(checkOperations(registerModel, history, options).verdict).toBe('illegal');
  });

  it('checkOperations rejects a read that returns before the write it observed was called', () => {
    const history = [read({ client: 1, times: [0, 1] }, 7), write({ client: 2, times: [2, 3] }, 7)];
    expect(checkOperations(registerModel, history, options).verdict).toBe('illegal');
  });

  it('checkOperations treats operations that touch at one instant as concurrent', () => {
    // The write returns at 5 and the read is called at 5: either order is allowed.
    const history = [write({ client: 1, times: [0, 5] }, 3), read({ client: 2, times: [5, 6] }, 0)];
    expect(checkOperations(registerModel, history, options).verdict).toBe('ok');
  });

  it('checkOperations accepts an unknown write that took effect when its return is infinite', () => {
    const history = [
      write({ client: 1, times: [0, Infinity] }, 4, 'unknown'),
      read({ client: 2, times: [10, 11] }, 4),
    ];
    expect(checkOperations(registerModel, history, options).verdict).toBe('ok');
  });

  it('checkOperations accepts an unknown write that never took effect when its return is infinite', () => {
    const history = [
      write({ client: 1, times: [0, Infinity] }, 4, 'unknown'),
      read({ client: 2, times: [10, 11] }, 0),
      read({ client: 2, times: [12, 13] }, 0),
    ];
    expect(checkOperations(registerModel, history, options).verdict).toBe('ok');
  });

  it('checkOperations rejects an unknown write with a finite return that reads never observed', () => {
    // NB: a finite returnTime claims the write took effect by then, so later reads must see it.
    const history = [
      write({ client: 1, times: [0, 5] }, 4, 'unknown'),
      read({ client: 2, times: [10, 11] }, 0),
    ];
    expect(checkOperations(registerModel, history, options).verdict).toBe('illegal');
  });

  it('checkOperations returns the partition, its operations and the longest prefix when illegal', () => {
    const good = [write({ client: 9, times: [0, 1], register: 1 }, 1)];
    const bad = [
      write({ client: 1, times: [0, 1] }, 1),
      read({ client: 2, times: [2, 3] }, 1),
      read({ client: 2, times: [4, 5] }, 8),
    ];
    const result = checkOperations(registerModel, [...good, ...bad], options);
    expect(result).toEqual({
      verdict: 'illegal',
      partitionIndex: 1,
      longestLinearizedPrefix: [bad[0], bad[1]],
      operations: bad,
    });
  });

  it('checkOperations prefers an illegal partition over an earlier unknown one', () => {
    const hard = wideHistory(10, 99); // needs many steps to refute
    const bad = [read({ client: 1, times: [0, 1], register: 1 }, 5)];
    const result = checkOperations(registerModel, [...hard, ...bad], { stepsMaxPerPartition: 50 });
    expect(result).toMatchObject({ verdict: 'illegal', partitionIndex: 1 });
  });

  it('checkOperations returns unknown for steps when the step budget is tiny', () => {
    const result = checkOperations(registerModel, wideHistory(8, 8), { stepsMaxPerPartition: 3 });
    expect(result).toEqual({ verdict: 'unknown', partitionIndex: 0, reason: 'steps' });
  });

  it('checkOperations returns unknown for time when the injected clock passes the limit', () => {
    let clockMs = 0;
    const now = (): number => {
      clockMs += 1_000;
      return clockMs;
    };
    const result = checkOperations(registerModel, wideHistory(10, 99), {
      stepsMaxPerPartition: 1_000_000,
      timeLimitMsPerPartition: 500,
      now,
    });
    expect(result).toEqual({ verdict: 'unknown', partitionIndex: 0, reason: 'time' });
  });

  it('checkOperations refutes 12 concurrent writes within budget thanks to the cache', () => {
    // Without the cache this is 12! orders; with it, at most 2^12 subsets times 13 states.
    const budget = { stepsMaxPerPartition: 2_000_000 };
    expect(checkOperations(registerModel, wideHistory(12, 99), budget).verdict).toBe('illegal');
    expect(checkOperations(registerModel, wideHistory(12, 7), budget).verdict).toBe('ok');
  });

  it('checkOperations stays correct when every state hashes alike', () => {
    // The cache must confirm a hash match with Model.equal, or it would prune live branches.
    const colliding: Model<number, RegisterInput, RegisterOutput> = {
      ...registerCore,
      hash: () => 'same',
    };
    // The search first reaches {write 1, write 2} ending in 2, then must revisit it ending in 1.
    const history = [
      write({ client: 1, times: [0, 10] }, 1),
      write({ client: 2, times: [0, 10] }, 2),
      read({ client: 3, times: [11, 12] }, 1),
    ];
    expect(checkOperations(colliding, history, options).verdict).toBe('ok');
    expect(checkOperations(colliding, wideHistory(6, 99), options).verdict).toBe('illegal');
  });

  it('checkOperations throws RangeError for a return before its call', () => {
    const history = [read({ client: 1, times: [5, 4] }, 0)];
    expect(() => checkOperations(registerModel, history, options)).toThrow(RangeError);
  });

  it('checkOperations throws RangeError for a non-finite call time or a NaN return time', () => {
    const lateCall = [read({ client: 1, times: [Infinity, Infinity] }, 0)];
    const nanReturn = [read({ client: 1, times: [0, Number.NaN] }, 0)];
    expect(() => checkOperations(registerModel, lateCall, options)).toThrow(RangeError);
    expect(() => checkOperations(registerModel, nanReturn, options)).toThrow(RangeError);
  });

  it('checkOperations throws RangeError for a step budget that is not a positive integer', () => {
    for (const stepsMaxPerPartition of [0, -1, 1.5, Number.NaN]) {
      expect(() => checkOperations(registerModel, [], { stepsMaxPerPartition })).toThrow(
        RangeError,
      );
    }
    const negativeTime = { stepsMaxPerPartition: 10, timeLimitMsPerPartition: -1 };
    expect(() => checkOperations(registerModel, [], negativeTime)).toThrow(RangeError);
  });

  it('checkOperations throws RangeError when the partitions lose operations', () => {
    const lossy: Model<number, RegisterInput, RegisterOutput> = {
      ...registerCore,
      partition: (history) => [history.slice(1)],
    };
    const history = [read({ client: 1, times: [0, 1] }, 0), read({ client: 1, times: [2, 3] }, 0)];
    expect(() => checkOperations(lossy, history, options)).toThrow(/partitions hold 1 operations/);
  });

  it('checkOperations checks the whole history as one partition without a partition method', () => {
    const history = [
      write({ client: 1, times: [0, 1], register: 1 }, 1),
      read({ client: 2, times: [2, 3], register: 2 }, 1),
    ];
    // One shared register: the read sees the write to "another" register.
    expect(checkOperations(registerCore, history, options).verdict).toBe('ok');
    expect(checkOperations(registerModel, history, options).verdict).toBe('illegal');
  });
});

describe('describeResult', () => {
  it('describeResult names the operation that could not be linearized and numbers the prefix', () => {
    const history = [
      write({ client: 1, times: [0, 1] }, 1),
      read({ client: 2, times: [2, 3] }, 1),
      read({ client: 3, times: [4, 5] }, 8),
      write({ client: 1, times: [6, 7] }, 8),
    ];
    const text = describeResult(registerModel, checkOperations(registerModel, history, options));
    expect(text).toContain('partition 0 (4 operations)');
    expect(text).toContain('Could not linearize: client 3 [4, 5] read(r0) -> 8');
    expect(text.split('\n').slice(-4)).toEqual([
      '      #1  client 1 [0, 1] write(r0, 1) -> done',
      '      #2  client 2 [2, 3] read(r0) -> 1',
      '->     -  client 3 [4, 5] read(r0) -> 8',
      '       -  client 1 [6, 7] write(r0, 8) -> done',
    ]);
  });

  it('describeResult prints inf for an operation that never returned', () => {
    const history = [
      write({ client: 1, times: [0, Infinity] }, 1, 'unknown'),
      read({ client: 2, times: [2, 3] }, 5),
    ];
    const text = describeResult(registerModel, checkOperations(registerModel, history, options));
    expect(text).toContain('client 1 [0, inf] write(r0, 1) -> unknown');
  });

  it('describeResult falls back to JSON without describeOperation', () => {
    const history = [read({ client: 2, times: [2, 3] }, 5)];
    const text = describeResult(registerCore, checkOperations(registerCore, history, options));
    expect(text).toContain('{"kind":"read","register":0} -> 5');
  });

  it('describeResult tells callers to treat unknown as a failure', () => {
    const text = describeResult(registerModel, {
      verdict: 'unknown',
      partitionIndex: 3,
      reason: 'steps',
    });
    expect(text).toBe(
      'Linearizability of partition 3 is unknown: the search exceeded stepsMaxPerPartition. ' +
        'Treat this as a failure',
    );
  });

  it('describeResult reports ok for a linearizable history', () => {
    expect(describeResult(registerModel, { verdict: 'ok' })).toBe('History is linearizable');
  });
});
