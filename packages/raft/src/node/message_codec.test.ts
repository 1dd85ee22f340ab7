// Goal: the wire codec round-trips every message shape and refuses every malformed input with
// a typed code instead of throwing. Method: encode/decode hand-built and seeded-random
// messages; then truncate, extend and flip bytes of valid encodings.
import { describe, expect, it } from 'vitest';
import {
  asIndex,
  asNodeId,
  asTerm,
  EntryType,
  makeMessage,
  MessageType,
  type Message,
} from '../index.ts';
import { SeededRandom } from '../testing.ts';
import { decodeEntries, decodeMessage, encodeEntries, encodeMessage } from './message_codec.ts';

function sample(random: SeededRandom): Message {
  const types = Object.values(MessageType);
  const type = random.pick(types);
  const entryCount = type === MessageType.append ? random.int(4) : 0;
  const index = random.int(1000);
  const isSnapshot = type === MessageType.snapshot || type === MessageType.snapshotResponse;
  return makeMessage({
    type,
    from: asNodeId(1 + random.int(5)),
    to: asNodeId(1 + random.int(5)),
    term: asTerm(1 + random.int(50)),
    logTerm: asTerm(random.int(50)),
    index: asIndex(index),
    commit: asIndex(random.int(1000)),
    reject: random.chance(0.5),
    rejectHint: asIndex(random.int(1000)),
    leaderTransfer: random.chance(0.5),
    context: Uint8Array.from({ length: random.int(5) }, () => random.int(256)),
    entries: Array.from({ length: entryCount }, (_, i) => ({
      term: asTerm(7),
      index: asIndex(index + 1 + i),
      type: random.chance(0.2) ? EntryType.confChange : EntryType.normal,
      data: Uint8Array.from({ length: random.int(40) }, () => random.int(256)),
    })),
    snapshot: isSnapshot
      ? {
          metadata: {
            index: asIndex(99),
            term: asTerm(4),
            confState: { voters: [asNodeId(1), asNodeId(2)], learners: [asNodeId(9)] },
          },
          offsetBytes: random.int(5000),
          data: Uint8Array.from({ length: random.int(30) }, () => random.int(256)),
          done: random.chance(0.5),
        }
      : undefined,
  });
}

describe('message codec', () => {
  it('decodeMessage round-trips 500 seeded messages of every type', () => {
    const random = new SeededRandom(11);
    for (let i = 0; i < 500; i++) {
      const message = sample(random);
      const decoded = decodeMessage(encodeMessage(message));
      expect(decoded).toEqual({ ok: true, value: message });
    }
  });

  it('decodeMessage refuses every truncation and an extension with a typed code', () => {
    const random = new SeededRandom(12);
    for (let i = 0; i < 50; i++) {
      const bytes = encodeMessage(sample(random));
      for (let cut = 0; cut < bytes.byteLength; cut++) {
        const result = decodeMessage(bytes.subarray(0, cut));
        expect(result.ok).toBe(false);
      }
      const longer = new Uint8Array(bytes.byteLength + 1);
      longer.set(bytes);
      expect(decodeMessage(longer)).toMatchObject({
        ok: false,
        code: 'COFFER_RAFT_INVALID_MESSAGE',
      });
    }
  });

  it('decodeMessage never throws on flipped bytes', () => {
    const random = new SeededRandom(13);
    for (let i = 0; i < 2000; i++) {
      const bytes = encodeMessage(sample(random));
      const position = random.int(bytes.byteLength);
      bytes[position] = (bytes[position] ?? 0) ^ (1 << random.int(8));
      expect(() => decodeMessage(bytes)).not.toThrow();
    }
  });

  it('decodeMessage refuses an unknown wire version', () => {
    const bytes = encodeMessage(sample(new SeededRandom(14)));
    bytes[0] = 99;
    const result = decodeMessage(bytes);
    expect(result).toMatchObject({ ok: false, code: 'COFFER_RAFT_INVALID_MESSAGE' });
    expect(result.ok ? '' : result.message).toContain('wire version 99');
  });

  it('decodeEntries round-trips a run of entries and refuses trailing or missing bytes', () => {
    const run = [1, 2, 3].map((i) => ({
      term: asTerm(3),
      index: asIndex(7 + i),
      type: i === 2 ? EntryType.confChange : EntryType.normal,
      data: new Uint8Array(i * 5).fill(i),
    }));
    expect(decodeEntries(encodeEntries(run))).toEqual({ ok: true, value: run });
    expect(decodeEntries(encodeEntries([]))).toEqual({ ok: true, value: [] });
    const bytes = encodeEntries(run);
    expect(decodeEntries(new Uint8Array([...bytes, 0])).ok).toBe(false);
    expect(decodeEntries(bytes.subarray(0, bytes.byteLength - 1)).ok).toBe(false);
  });
});
