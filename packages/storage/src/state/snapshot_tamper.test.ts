/**
 * Goal: a restore from a corrupt, truncated, reordered, forged or wrongly keyed stream fails
 * with a typed error naming the chunk, and leaves the existing state exactly as it was: same
 * hash, same applied index, no staging directory left, the store still usable.
 * Method: one seeded snapshot with small chunks (manifest, section, data and end frames); flip
 * a byte at every position class of every frame type, cut the stream at every frame boundary
 * and inside every frame, drop, swap and append chunks, re-seal a tampered stream as a forger
 * would (every SHA-256 recomputed, no key), use a wrong key, then fuzz seeded byte flips.
 * After each attempt the target's hash and directory are compared with the originals.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SeededRandom } from '@coffer/raft/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { StorageErrorCode, type StorageErrorCode as Code } from '../errors.ts';
import { LevelStateStore } from './level_state_store.ts';
import { FrameType, frameHeaderBytes, prefixBytes } from './snapshot_format.ts';
import {
  collect,
  fillStore,
  frameSpans,
  reseal,
  type FrameSpan,
  countKeys,
} from './snapshot_test_support.ts';

const key = new Uint8Array(32).fill(1);
let root: string;
let target: LevelStateStore;
let stream: Uint8Array;
let spans: FrameSpan[];
let originalHash: string;
let originalDir: string[];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-tamper-'));
  const source = await LevelStateStore.open(join(root, 'source'), { syncApply: false });
  await fillStore(source, new SeededRandom(11), 600);
  const snapshot = await source.snapshot({
    key,
    membership: Uint8Array.of(1),
    keyringTerm: 1,
    sections: [{ name: 'sessions', data: new Uint8Array(700).fill(5) }],
    chunkSizeBytes: 512,
  });
  // A plain Uint8Array: Buffer.prototype.slice() would give views, not copies, to tamper with.
  stream = new Uint8Array(Buffer.concat(await collect(snapshot.chunks)));
  spans = frameSpans(stream);
  await source.close();
  target = await LevelStateStore.open(join(root, 'target'), { syncApply: false });
  await fillStore(target, new SeededRandom(12), 200);
  originalHash = await target.stateHash();
  originalDir = await readdir(join(root, 'target'));
});

afterAll(async () => {
  await target.close();
  await rm(root, { recursive: true, force: true });
});

/** Restores bytes into the target, expecting a refusal; checks nothing changed. */
async function expectRefused(
  bytes: Uint8Array | Uint8Array[],
  codes: readonly Code[],
  chunk?: RegExp,
): Promise<void> {
  const chunks = Array.isArray(bytes) ? bytes : [bytes];
  const error = await target.restore(chunks, { key }).then(
    () => undefined,
    (e: unknown) => e as { code: Code; message: string },
  );
  expect(error, 'the restore was accepted').toBeDefined();
  expect(codes).toContain(error?.code);
  if (chunk !== undefined) {
    expect(error?.message).toMatch(chunk);
  }
  expect(await target.stateHash()).toBe(originalHash);
  expect(await readdir(join(root, 'target'))).toEqual(originalDir);
}

function flipped(at: number): Uint8Array {
  const copy = stream.slice();
  copy[at] = (copy[at] ?? 0) ^ 0x40;
  return copy;
}

function ofType(type: number): FrameSpan[] {
  return spans.filter((span) => span.type === type);
}

// Real disk and thousands of cases: generous bounds for a loaded CI machine.
describe('state snapshot restore refuses bad streams', { timeout: 30_000 }, () => {
  it('the snapshot has every frame type and several data frames', () => {
    expect(ofType(FrameType.manifest)).toHaveLength(1);
    expect(ofType(FrameType.section)).toHaveLength(2);
    expect(ofType(FrameType.data).length).toBeGreaterThan(10);
    expect(ofType(FrameType.end)).toHaveLength(1);
  });

  it('a flipped byte in the prefix is refused as corrupt or of an unknown format', async () => {
    await expectRefused(flipped(0), [StorageErrorCode.snapshotCorrupt], /prefix/);
    await expectRefused(flipped(prefixBytes - 1), [StorageErrorCode.formatUnsupported]);
  });

  it('a flipped byte anywhere in a frame body or digest is refused naming the chunk', async () => {
    const data = ofType(FrameType.data);
    const chosen = [
      spans[0],
      spans[1],
      data[0],
      data[Math.floor(data.length / 2)],
      data.at(-1),
      spans.at(-1),
    ];
    for (const span of chosen) {
      if (span === undefined) {
        continue;
      }
      const body = span.offset + frameHeaderBytes;
      const digest = body + span.bodyLength;
      const positions = [
        body,
        body + Math.floor(span.bodyLength / 2),
        digest - 1,
        digest,
        digest + 31,
      ];
      for (const at of positions) {
        await expectRefused(
          flipped(at),
          [StorageErrorCode.snapshotCorrupt],
          new RegExp(`chunk ${span.seq} fails its SHA-256`),
        );
      }
    }
  });

  it('a flipped byte in a frame header is refused', async () => {
    for (const span of [spans[0], spans[1], spans[5], spans.at(-1)]) {
      if (span === undefined) {
        continue;
      }
      // Type and sequence number fail the frame digest; a length either exceeds the limit,
      // reads past the end (truncated) or misplaces the digest.
      await expectRefused(
        flipped(span.offset),
        [StorageErrorCode.snapshotCorrupt],
        new RegExp(`chunk ${span.seq}`),
      );
      await expectRefused(
        flipped(span.offset + 4),
        [StorageErrorCode.snapshotCorrupt],
        new RegExp(`chunk ${span.seq}`),
      );
      for (const at of [span.offset + 5, span.offset + 8]) {
        await expectRefused(flipped(at), [
          StorageErrorCode.snapshotCorrupt,
          StorageErrorCode.snapshotTruncated,
        ]);
      }
    }
  });

  it('a stream cut at any frame boundary or inside any frame is refused as truncated', async () => {
    await expectRefused(stream.subarray(0, 0), [StorageErrorCode.snapshotTruncated], /prefix/);
    await expectRefused(stream.subarray(0, 5), [StorageErrorCode.snapshotTruncated], /prefix/);
    for (const span of spans) {
      await expectRefused(
        stream.subarray(0, span.offset),
        [StorageErrorCode.snapshotTruncated],
        /ended/,
      );
      const inside = span.offset + 1 + ((span.seq * 7919) % (span.size - 1));
      await expectRefused(
        stream.subarray(0, inside),
        [StorageErrorCode.snapshotTruncated],
        new RegExp(`chunk ${span.seq}`),
      );
    }
  });

  it('dropped, repeated, swapped or extra chunks are refused', async () => {
    const frames = spans.map((s) => stream.subarray(s.offset, s.offset + s.size));
    const prefix = stream.subarray(0, prefixBytes);
    const rebuild = (order: number[]): Uint8Array[] => [
      prefix,
      ...order.map((i) => frames[i] ?? new Uint8Array(0)),
    ];
    const all = frames.map((_, i) => i);
    const last = all.length - 1;
    const corrupt = [StorageErrorCode.snapshotCorrupt];
    await expectRefused(rebuild(all.filter((i) => i !== 5)), corrupt, /chunk 5 is numbered 6/);
    await expectRefused(
      rebuild([...all.slice(0, 6), 5, ...all.slice(6)]),
      corrupt,
      /chunk 6 is numbered 5/,
    );
    await expectRefused(
      rebuild([0, 1, 2, 4, 3, ...all.slice(5)]),
      corrupt,
      /chunk 3 is numbered 4/,
    );
    await expectRefused(
      rebuild([...all, last]),
      corrupt,
      new RegExp(`chunk ${last} is followed by more bytes`),
    );
    await expectRefused([stream, Uint8Array.of(0)], corrupt, /followed by more bytes/);
  });

  it('a forged stream with every SHA-256 recomputed is refused by the HMAC', async () => {
    const data = ofType(FrameType.data)[3];
    expect(data).toBeDefined();
    const tampered = flipped((data?.offset ?? 0) + frameHeaderBytes + (data?.bodyLength ?? 0) - 1);
    await expectRefused(reseal(tampered), [StorageErrorCode.snapshotAuthFailed]);
    await expectRefused(reseal(tampered, new Uint8Array(32).fill(2)), [
      StorageErrorCode.snapshotAuthFailed,
    ]);
  });

  it('a stream under another key is refused by the HMAC', async () => {
    const error = await target
      .restore([stream], { key: new Uint8Array(32).fill(9) })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: StorageErrorCode.snapshotAuthFailed });
    expect(await target.stateHash()).toBe(originalHash);
  });

  it('a source that fails mid-stream leaves the state untouched', async () => {
    function* failing(): Generator<Uint8Array> {
      yield stream.subarray(0, spans[6]?.offset ?? 0);
      throw new Error('connection reset');
    }
    await expect(target.restore(failing(), { key })).rejects.toThrow('connection reset');
    expect(await target.stateHash()).toBe(originalHash);
    expect(await readdir(join(root, 'target'))).toEqual(originalDir);
  });

  it('seeded random byte flips are always refused with a typed error', async () => {
    const random = new SeededRandom(99);
    const codes = [
      StorageErrorCode.snapshotCorrupt,
      StorageErrorCode.snapshotTruncated,
      StorageErrorCode.formatUnsupported,
    ];
    for (let i = 0; i < 40; i++) {
      const copy = stream.slice();
      const at = random.int(copy.byteLength);
      copy[at] = (copy[at] ?? 0) ^ (1 + random.int(255));
      await expectRefused(copy, codes);
    }
  });

  it('the untouched stream still restores after all the refusals', async () => {
    await target.restore([stream], { key });
    expect(await countKeys(target)).toBeGreaterThan(100);
  });
});
