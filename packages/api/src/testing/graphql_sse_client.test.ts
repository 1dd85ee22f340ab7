/**
 * Goal: the test client's SSE parser finds every block once however the network splits the
 * stream into chunks (a blank line split across two chunks included).
 * Method: a stream of three blocks fed through wholeSseBlocks in two and three chunks at every
 * split point.
 */
import { describe, expect, it } from 'vitest';

import { wholeSseBlocks } from './graphql_sse_client.ts';

const stream =
  ':\n\nevent: next\ndata: {"a":1}\n\nevent: next\ndata: {"b":2}\n\nevent: complete\n\n';
const expected = [
  ':',
  'event: next\ndata: {"a":1}',
  'event: next\ndata: {"b":2}',
  'event: complete',
];

/** The blocks of stream fed in chunks ending at `cuts`. */
function blocksOf(cuts: readonly number[]): string[] {
  let body = '';
  let parsed = 0;
  const blocks: string[] = [];
  let start = 0;
  for (const cut of [...cuts, stream.length]) {
    body += stream.slice(start, cut);
    start = cut;
    const found = wholeSseBlocks(body, parsed);
    parsed = found.parsed;
    blocks.push(...found.blocks);
  }
  return blocks;
}

describe('wholeSseBlocks', () => {
  it('finds every block once at every split into two and three chunks', () => {
    for (let i = 0; i <= stream.length; i++) {
      expect(blocksOf([i])).toEqual(expected);
      for (let j = i; j <= stream.length; j += 7) {
        expect(blocksOf([i, j])).toEqual(expected);
      }
    }
  });

  it('keeps a block without its blank line for the next chunk', () => {
    expect(wholeSseBlocks('event: next\ndata: {}\n', 0)).toEqual({ blocks: [], parsed: 0 });
  });
});
