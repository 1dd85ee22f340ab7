/**
 * Goal: mergePatch follows RFC 7396, including the examples of its appendix A.
 * Method: table of target, patch, result; inputs checked unchanged.
 * Reference: RFC 7396 appendix A.
 */
import { describe, expect, it } from 'vitest';

import { mergePatch } from './kv_merge_patch.ts';

describe('mergePatch', () => {
  const cases: readonly (readonly [unknown, unknown, unknown])[] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];

  it('mergePatch matches every example of RFC 7396 appendix A', () => {
    for (const [target, patch, result] of cases) {
      expect(mergePatch(target, patch)).toEqual(result);
    }
  });

  it('mergePatch leaves its inputs unchanged', () => {
    const target = { a: { b: 1 }, c: 2 };
    const patch = { a: { b: null }, c: null };
    mergePatch(target, patch);
    expect(target).toEqual({ a: { b: 1 }, c: 2 });
    expect(patch).toEqual({ a: { b: null }, c: null });
  });
});
