/**
 * Test support (not exported): builds stores and snapshots for the snapshot tests, and maps a
 * snapshot stream's frames so that tests can tamper with chosen bytes.
 */
import { createHash, createHmac } from 'node:crypto';

import { asIndex, asTerm } from '@coffer/raft';
import type { SeededRandom } from '@coffer/raft/testing';

import type { LevelStateStore } from './level_state_store.ts';
import { randomBatches, randomLog, StateModel } from './random_commands.ts';
import { frameHeaderBytes, prefixBytes } from './snapshot_format.ts';
import { encodeStateCommand } from './state_command.ts';

/** A frame's place in a whole stream. */
export interface FrameSpan {
  readonly seq: number;
  readonly type: number;
  readonly offset: number;
  readonly bodyLength: number;
  /** Bytes of the whole frame: header, body, digest. */
  readonly size: number;
}

/** Reads every chunk of a snapshot stream. */
export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of chunks) {
    out.push(chunk);
  }
  return out;
}

/** The frames of a well-formed stream, in order. */
export function frameSpans(stream: Uint8Array): FrameSpan[] {
  const spans: FrameSpan[] = [];
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  for (let offset = prefixBytes; offset < stream.byteLength;) {
    const bodyLength = view.getUint32(offset + 5);
    const size = frameHeaderBytes + bodyLength + 32;
    spans.push({ seq: spans.length, type: view.getUint8(offset), offset, bodyLength, size });
    offset += size;
  }
  return spans;
}

/** Cuts bytes into chunks of random sizes from 1 to sizeMax. */
export function recut(random: SeededRandom, bytes: Uint8Array, sizeMax: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength;) {
    const size = 1 + random.int(sizeMax);
    chunks.push(bytes.slice(at, at + size));
    at += size;
  }
  return chunks;
}

/**
 * Applies a random log of count entries to store in random batches, then puts count / 5
 * distinct keys with random values, so that snapshots span many data frames.
 */
export async function fillStore(
  store: LevelStateStore,
  random: SeededRandom,
  count: number,
): Promise<void> {
  const { entries } = randomLog(random, count, new StateModel());
  for (const batch of randomBatches(random, entries, 200)) {
    await store.apply(batch);
  }
  const bulk = Array.from({ length: Math.floor(count / 5) }, (_, i) => {
    const value = Uint8Array.from({ length: random.int(200) }, () => random.int(256));
    const data = encodeStateCommand({ kind: 'put', key: `bulk/${random.int(1e6)}/${i}`, value });
    return { index: asIndex(count + 1 + i), term: asTerm(100), data };
  });
  await store.apply(bulk);
}

function sha256(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  parts.forEach((part) => hash.update(part));
  return hash.digest();
}

/**
 * Re-seals a tampered stream as a forger without the key would: every frame digest and the
 * whole-stream SHA-256 recomputed, the HMAC left as it was (or recomputed under forgeryKey).
 */
export function reseal(stream: Uint8Array, forgeryKey?: Uint8Array): Uint8Array {
  const out = stream.slice();
  const spans = frameSpans(out);
  const end = spans.at(-1);
  if (end === undefined) {
    throw new Error('A stream has at least an end frame');
  }
  const chain: Uint8Array[] = [out.subarray(0, prefixBytes)];
  for (const span of spans) {
    const sealed = span.offset + frameHeaderBytes + span.bodyLength;
    if (span !== end) {
      const digest = sha256(out.subarray(span.offset, sealed));
      out.set(digest, sealed);
      chain.push(digest);
    }
  }
  const bodyAt = end.offset + frameHeaderBytes;
  out.set(sha256(...chain), bodyAt + 8);
  if (forgeryKey !== undefined) {
    const hmac = createHmac('sha256', forgeryKey);
    for (const part of chain) {
      hmac.update(part);
    }
    hmac.update(out.subarray(end.offset, bodyAt + 40));
    out.set(hmac.digest(), bodyAt + 40);
  }
  out.set(sha256(out.subarray(end.offset, bodyAt + 72)), bodyAt + 72);
  return out;
}

/** The number of user keys in store, paging through a listing. */
export async function countKeys(store: LevelStateStore): Promise<number> {
  let count = 0;
  let after: string | undefined;
  do {
    const page = await store.list('', { limit: 1000, ...(after === undefined ? {} : { after }) });
    count += page.keys.length;
    after = page.cursor;
  } while (after !== undefined);
  return count;
}
