/**
 * `npm run bench -w @coffer/core`: barrier encryptions and decryptions of 1 KiB values per
 * second on one core, against raw AES-256-GCM from node:crypto measured in the same run on the
 * same mix (createCipheriv with a fresh randomBytes(12) nonce per value, no associated data, no
 * framing). The barrier does more per value (header, path-bound associated data, reservation
 * accounting, one output buffer); the ratio says what that costs. Target: at least 70% of raw.
 *
 * The barrier and the raw primitive alternate every batch of 256 operations (in alternating
 * order), and each side's time is summed: load from other processes on a shared machine then
 * falls on both sides alike, so the ratio holds even when the absolute rates wander.
 *
 * Options: --seconds <n> per operation, both sides together (default 6), --value-bytes <n>
 * (default 1024).
 */
import { createCipheriv, createDecipheriv, randomBytes, randomFillSync } from 'node:crypto';
import { cpus } from 'node:os';
import { Barrier, initializeKeyring, SecretKey } from '@coffer/core';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`bench:barrier: --${name} takes a positive number`);
    process.exit(1);
  }
  return value;
}

const operationSeconds = option('seconds', 5);
const valueBytes = option('value-bytes', 1024);
const distinctValues = 1024;
const batchSize = 256;
const targetRatio = 0.7;

/** Values and their paths: deterministic, distinct, the same for every workload. */
const values = Array.from({ length: distinctValues }, (_, i) =>
  Buffer.alloc(valueBytes, `value ${i} `),
);
const paths = values.map((_, i) => `secret/bench/${String(i).padStart(6, '0')}`);

/** Keeps results alive so no work is optimized away. */
let sink = 0;

interface Comparison {
  readonly barrierPerSecond: number;
  readonly rawPerSecond: number;
}

/** Times one batch of `batchSize` operations starting at `start`, in ns. */
function timed(batch: (start: number) => void, start: number): number {
  const started = process.hrtime.bigint();
  batch(start);
  return Number(process.hrtime.bigint() - started);
}

/** Alternates barrier and raw batches for `operationSeconds`; returns each side's rate. */
function compare(barrier: (start: number) => void, raw: (start: number) => void): Comparison {
  for (let i = 0; i < 20; i++) {
    barrier(i * batchSize); // warm-up: JIT and the nonce pool
    raw(i * batchSize);
  }
  const deadline = performance.now() + operationSeconds * 1000;
  let barrierNs = 0;
  let rawNs = 0;
  let operations = 0;
  for (let round = 0; performance.now() < deadline; round++) {
    if (round % 2 === 0) {
      barrierNs += timed(barrier, operations);
      rawNs += timed(raw, operations);
    } else {
      rawNs += timed(raw, operations);
      barrierNs += timed(barrier, operations);
    }
    operations += batchSize;
  }
  return {
    barrierPerSecond: operations / (barrierNs / 1e9),
    rawPerSecond: operations / (rawNs / 1e9),
  };
}

function openBarrier(): Barrier {
  const rootKey = SecretKey.generate();
  const sealedKeyring = initializeKeyring(rootKey, { nowMs: Date.now() });
  const barrier = new Barrier();
  barrier.unseal(rootKey, sealedKeyring);
  return barrier;
}

/** Keeps the barrier's reservation topped up, as the integration layer does between writes. */
function topUp(barrier: Barrier): void {
  if (barrier.needsReservation()) {
    barrier.applyKeyringChange(barrier.prepareReservation().bytes);
  }
}

interface RawCiphertext {
  readonly nonce: Buffer;
  readonly body: Buffer;
  readonly tag: Buffer;
}

function rawEncrypt(key: Buffer, plaintext: Buffer): RawCiphertext {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const body = cipher.update(plaintext);
  cipher.final();
  return { nonce, body, tag: cipher.getAuthTag() };
}

const noncePool = Buffer.alloc(12 * 1024);
let noncePoolOffset = noncePool.byteLength;

/** Raw encryption with nonces from a randomFillSync pool, as the barrier draws them. */
function rawEncryptPooled(key: Buffer, plaintext: Buffer): Buffer {
  if (noncePoolOffset === noncePool.byteLength) {
    randomFillSync(noncePool);
    noncePoolOffset = 0;
  }
  const nonce = noncePool.subarray(noncePoolOffset, noncePoolOffset + 12);
  noncePoolOffset += 12;
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  sink ^= cipher.update(plaintext)[0] ?? 0;
  cipher.final();
  return cipher.getAuthTag();
}

function rawDecrypt(key: Buffer, ciphertext: RawCiphertext): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, ciphertext.nonce);
  decipher.setAuthTag(ciphertext.tag);
  const plaintext = decipher.update(ciphertext.body);
  decipher.final();
  return plaintext;
}

interface Item {
  readonly path: string;
  readonly value: Buffer;
  readonly sealed: Uint8Array;
  readonly raw: RawCiphertext;
}

function workloads(): Record<string, (start: number) => void> {
  const barrier = openBarrier();
  topUp(barrier);
  const rawKey = randomBytes(32);
  const items: Item[] = values.map((value, i) => {
    const path = paths[i] ?? '';
    return { path, value, sealed: barrier.encrypt(path, value), raw: rawEncrypt(rawKey, value) };
  });
  const itemAt = (i: number): Item => {
    const item = items[i % distinctValues];
    if (item === undefined) {
      throw new Error('unreachable: i % distinctValues is in range');
    }
    return item;
  };
  const run =
    (work: (item: Item) => number, before?: () => void) =>
    (start: number): void => {
      before?.();
      for (let i = start; i < start + batchSize; i++) {
        sink ^= work(itemAt(i));
      }
    };
  return {
    'barrier encrypt': run(
      (item) => barrier.encrypt(item.path, item.value)[20] ?? 0,
      () => {
        topUp(barrier);
      },
    ),
    'raw encrypt': run((item) => rawEncrypt(rawKey, item.value).tag[0] ?? 0),
    'raw encrypt, pooled nonces': run((item) => rawEncryptPooled(rawKey, item.value)[0] ?? 0),
    'barrier decrypt': run((item) => barrier.decrypt(item.path, item.sealed)[0] ?? 0),
    'raw decrypt': run((item) => rawDecrypt(rawKey, item.raw)[0] ?? 0),
  };
}

function main(): void {
  const batches = workloads();
  const noop = (): void => undefined;
  const rows: readonly (readonly [string, string, string])[] = [
    ['encrypt', 'barrier encrypt', 'raw encrypt'],
    ['decrypt', 'barrier decrypt', 'raw decrypt'],
    ['encrypt*', 'barrier encrypt', 'raw encrypt, pooled nonces'],
  ];
  const results = rows.map(([operation, barrier, raw]) => ({
    operation,
    ...compare(batches[barrier] ?? noop, batches[raw] ?? noop),
  }));
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`bench:barrier — ${cpus().length} cores, ${cpu}, Node ${process.version}`);
  console.log(
    `${valueBytes}-byte values, one thread, ${operationSeconds} s per operation, barrier and raw ` +
      `alternating every ${batchSize} operations; raw = node:crypto AES-256-GCM, ` +
      'randomBytes(12) nonce, no associated data\n',
  );
  console.log('operation | barrier ops/s | raw ops/s | barrier / raw | target ≥ 70%');
  for (const { operation, barrierPerSecond, rawPerSecond } of results) {
    const ratio = barrierPerSecond / rawPerSecond;
    console.log(
      `${operation.padEnd(9)} | ${barrierPerSecond.toFixed(0).padStart(13)} | ` +
        `${rawPerSecond.toFixed(0).padStart(9)} | ${(ratio * 100).toFixed(1).padStart(12)}% | ` +
        (operation.endsWith('*') ? 'n/a (info)' : ratio >= targetRatio ? 'met' : 'MISSED'),
    );
  }
  console.log(
    '\n* against raw encryption drawing its nonces from the same kind of randomFillSync pool as ' +
      'the barrier: the cost of the barrier itself, without the nonce-pool gain',
  );
  if (sink === 0x1_0000) {
    console.log('(unreachable; keeps results alive)');
  }
}

main();
