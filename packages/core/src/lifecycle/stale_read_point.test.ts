/**
 * Goal: a stale read's read point is linearizable whenever the leader gave its read index in
 * time, however long applying up to it then takes, and falls back to the applied index only
 * when no leader answered: the round failed, or nothing came within the wait.
 * Method: staleReadPoint over a hand-made read round whose `answered` and `done` the test
 * settles, and a ManualClock; no Raft, no I/O.
 */
import { describe, expect, it } from 'vitest';

import { ManualClock } from '@coffer/raft/testing';

import { CoreError, CoreErrorCode } from '../errors.ts';
import type { SecureStore } from '../replicated/secure_store.ts';
import { staleReadPoint, staleReadWaitMsDefault } from './stale_read_point.ts';

/** A read round the test settles by hand, and a store that hands it out. */
function fixture() {
  const unset = (): void => undefined;
  const settle = { answer: unset, finish: unset, fail: unset };
  const answered = new Promise<void>((resolve) => {
    settle.answer = resolve;
  });
  const done = new Promise<void>((resolve, reject) => {
    settle.finish = resolve;
    settle.fail = () => {
      reject(new CoreError(CoreErrorCode.notActive, 'Cannot serve the request: no leader'));
    };
  });
  const secure = {
    readRound: () => ({ answered, done }),
    appliedIndex: () => 17,
  } as unknown as SecureStore;
  const clock = new ManualClock();
  return { settle, clock, point: staleReadPoint({ secure, clock }) };
}

/** Lets pending promise callbacks run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await Promise.resolve();
  }
}

describe('staleReadPoint', () => {
  it('staleReadPoint is linearizable when the round completes in time', async () => {
    const f = fixture();
    const point = f.point();
    f.settle.answer();
    f.settle.finish();
    expect(await point).toBeUndefined();
  });

  it('staleReadPoint waits for the apply once the leader answered, past the wait', async () => {
    const f = fixture();
    let result: unknown = 'pending';
    void f.point().then((r) => {
      result = r;
    });
    f.settle.answer();
    await flush();
    f.clock.advance(staleReadWaitMsDefault * 10);
    await flush();
    expect(result).toBe('pending');
    f.settle.finish();
    await flush();
    expect(result).toBeUndefined();
  });

  it('staleReadPoint falls back to the applied index when no leader answers in time', async () => {
    const f = fixture();
    let result: unknown = 'pending';
    void f.point().then((r) => {
      result = r;
    });
    f.clock.advance(staleReadWaitMsDefault - 1);
    await flush();
    expect(result).toBe('pending');
    f.clock.advance(1);
    await flush();
    expect(result).toEqual({ appliedIndex: 17 });
  });

  it('staleReadPoint falls back at once when the round fails', async () => {
    const f = fixture();
    const point = f.point();
    f.settle.fail();
    expect(await point).toEqual({ appliedIndex: 17 });
  });

  it('staleReadPoint falls back when the round fails after the leader answered', async () => {
    const f = fixture();
    const point = f.point();
    f.settle.answer();
    await flush();
    f.settle.fail();
    expect(await point).toEqual({ appliedIndex: 17 });
  });
});
