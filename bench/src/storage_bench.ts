/**
 * `npm run bench -w @coffer/storage`: the LevelDB state machine and its snapshots, each beside
 * the raw primitive measured in the same run on the same disk.
 *
 *   apply            committed put entries applied per second (batches of 1,000, unsynced),
 *                    beside raw classic-level chained-batch writes of the same keys and values;
 *   apply, synced    the same with every batch fsynced, beside raw synced batch writes;
 *   snapshot write   the whole state streamed as a snapshot into a file, beside a raw
 *                    sequential read of the same database with iterator.nextv(); both on the
 *                    database compacted first (untimed), so that they measure a settled
 *                    state, not the compaction backlog of the bulk load competing for the
 *                    cores (without that: 43–53 MB/s for the snapshot on this 2-core machine);
 *   restore          that file restored into a new store (verified, staged, switched), beside
 *                    a raw copy of the database: nextv() slices written as batches into a
 *                    new database, in key order, then synced.
 *
 * Every phase runs in its own child process, so that its peak RSS (getrusage maxRSS) is its
 * own. Keys are 40-byte paths inserted in a scrambled order; values are 256 random bytes (like
 * ciphertext, incompressible). Everything is written under a temporary directory, deleted at
 * the end. Options: --keys <n> (default 1,000,000), --synced-keys <n> (default 100,000).
 */
import { fork } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

import { asIndex, asTerm } from '@coffer/raft';
import {
  encodeStateCommand,
  LevelStateStore,
  openStateDatabase,
  type StateEntry,
} from '@coffer/storage';

const phases = [
  'apply',
  'raw-write',
  'apply-sync',
  'raw-write-sync',
  'snapshot',
  'raw-read',
  'restore',
  'raw-copy',
] as const;
type Phase = (typeof phases)[number];

/** What a phase measured. */
interface Measured {
  readonly phase: Phase;
  readonly seconds: number;
  readonly records: number;
  readonly bytes: number;
}

/** What a phase reports to the parent: its measure and its memory. */
interface PhaseResult extends Measured {
  /** Peak resident set (getrusage maxRSS), file-backed pages included. */
  readonly maxRssBytes: number;
  /** Peak anonymous resident memory (sampled RssAnon): heap, buffers, LevelDB caches. */
  readonly maxAnonRssBytes: number;
}

const batchEntries = 1000;
const keyBytes = 40;
const valueBytes = 256;
const snapshotKey = new Uint8Array(32).fill(0x5a);
const thisFile = fileURLToPath(import.meta.url);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    console.error(`bench:storage: --${name} takes a positive integer`);
    process.exit(1);
  }
  return value;
}

/** The 40-byte path of key number i of n, in a scrambled but reproducible order. */
function keyOf(i: number, n: number): string {
  const k = (i * 7919 + 13) % n;
  return `secret/data/t${String(k % 1000).padStart(4, '0')}/k${String(k).padStart(21, '0')}`;
}

/** Keys and values for entries [from, from + count): random values, fresh per batch. */
function batchData(
  from: number,
  count: number,
  n: number,
): { keys: string[]; values: Uint8Array[] } {
  const pool = randomFillSync(new Uint8Array(count * valueBytes));
  const keys: string[] = [];
  const values: Uint8Array[] = [];
  for (let j = 0; j < count; j++) {
    keys.push(keyOf(from + j, n));
    values.push(pool.subarray(j * valueBytes, (j + 1) * valueBytes));
  }
  return { keys, values };
}

/** The process's anonymous resident memory now (Linux); 0 where /proc is missing. */
function anonRssBytes(): number {
  try {
    const match = /RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return Number(match?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/**
 * Runs a phase while sampling its anonymous RSS every 10 ms. NB: getrusage's maxRSS also
 * counts the table files LevelDB maps read-only (clean page cache, which the kernel reclaims
 * at will); the anonymous figure is the memory the process itself holds.
 */
async function withMemory(run: () => Promise<Measured>): Promise<PhaseResult> {
  let maxAnonRssBytes = anonRssBytes();
  const sampler = setInterval(() => {
    maxAnonRssBytes = Math.max(maxAnonRssBytes, anonRssBytes());
  }, 10);
  try {
    const measured = await run();
    maxAnonRssBytes = Math.max(maxAnonRssBytes, anonRssBytes());
    return { ...measured, maxRssBytes: process.resourceUsage().maxRSS * 1024, maxAnonRssBytes };
  } finally {
    clearInterval(sampler);
  }
}

/** Applies n put entries in batches; only the apply() calls are timed. */
async function runApply(dir: string, n: number, sync: boolean): Promise<Measured> {
  const store = await LevelStateStore.open(dir, { syncApply: sync });
  let seconds = 0;
  for (let from = 0; from < n; from += batchEntries) {
    const count = Math.min(batchEntries, n - from);
    const { keys, values } = batchData(from, count, n);
    const entries: StateEntry[] = keys.map((key, j) => ({
      index: asIndex(from + j + 1),
      term: asTerm(1),
      data: encodeStateCommand({ kind: 'put', key, value: values[j] ?? new Uint8Array(0) }),
    }));
    const start = performance.now();
    await store.apply(entries);
    seconds += (performance.now() - start) / 1000;
  }
  await store.close();
  const phase = sync ? 'apply-sync' : 'apply';
  return {
    phase,
    seconds,
    records: n,
    bytes: n * (keyBytes + valueBytes),
  };
}

/** Raw chained-batch writes of the same keys and values: the primitive under apply(). */
async function runRawWrite(dir: string, n: number, sync: boolean): Promise<Measured> {
  const db = await openStateDatabase(dir, { createIfMissing: true });
  const encoder = new TextEncoder();
  let seconds = 0;
  for (let from = 0; from < n; from += batchEntries) {
    const count = Math.min(batchEntries, n - from);
    const { keys, values } = batchData(from, count, n);
    const encoded = keys.map((key) => encoder.encode(key));
    const start = performance.now();
    const batch = db.batch();
    encoded.forEach((key, j) => {
      batch.put(key, values[j] ?? new Uint8Array(0));
    });
    await batch.write({ sync });
    seconds += (performance.now() - start) / 1000;
  }
  await db.close();
  const phase = sync ? 'raw-write-sync' : 'raw-write';
  return {
    phase,
    seconds,
    records: n,
    bytes: n * (keyBytes + valueBytes),
  };
}

/**
 * Compacts the database the apply phase loaded, before the read phases time anything, so they
 * measure a settled database and not the compaction backlog of a bulk load running beside them.
 */
async function settle(dir: string): Promise<void> {
  const db = await openStateDatabase(join(dir, 'state-000000000001'), { createIfMissing: false });
  await db.compactAll();
  await db.close();
}

/** Streams a snapshot of the store in dir into file. */
async function runSnapshot(dir: string, file: string, n: number): Promise<Measured> {
  await settle(dir);
  const store = await LevelStateStore.open(dir);
  const start = performance.now();
  const snapshot = await store.snapshot({
    key: snapshotKey,
    membership: Uint8Array.of(1),
    keyringTerm: 1,
  });
  await pipeline(Readable.from(snapshot.chunks), createWriteStream(file));
  const seconds = (performance.now() - start) / 1000;
  await store.close();
  return {
    phase: 'snapshot',
    seconds,
    records: n,
    bytes: statSync(file).size,
  };
}

/** Reads every record of the store's database in key order: the primitive under a snapshot. */
async function runRawRead(dir: string): Promise<Measured> {
  await settle(dir);
  const db = await openStateDatabase(join(dir, 'state-000000000001'), { createIfMissing: false });
  const start = performance.now();
  let records = 0;
  let bytes = 0;
  for await (const slice of db.scan({ gte: Uint8Array.of(1), lt: Uint8Array.of(2) })) {
    for (const [key, value] of slice) {
      records++;
      bytes += key.byteLength + value.byteLength;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  await db.close();
  return { phase: 'raw-read', seconds, records, bytes };
}

/**
 * Copies every record of the store's database into a new database, slice by slice, then
 * syncs: the primitive under a restore (read and write the same records in key order, with
 * no framing, hashing or checks).
 */
async function runRawCopy(from: string, to: string): Promise<Measured> {
  const source = await openStateDatabase(join(from, 'state-000000000001'), {
    createIfMissing: false,
  });
  const target = await openStateDatabase(to, {
    createIfMissing: true,
    writeBufferSizeBytes: 16 * 1024 * 1024,
  });
  const start = performance.now();
  let records = 0;
  let bytes = 0;
  for await (const slice of source.scan({ gte: Uint8Array.of(1), lt: Uint8Array.of(2) })) {
    const batch = target.batch();
    for (const [key, value] of slice) {
      batch.put(key, value);
      records++;
      bytes += key.byteLength + value.byteLength;
    }
    await batch.write({ sync: false });
  }
  const last = target.batch();
  last.put(Uint8Array.of(0), Uint8Array.of(0));
  await last.write({ sync: true });
  const seconds = (performance.now() - start) / 1000;
  await Promise.all([source.close(), target.close()]);
  return { phase: 'raw-copy', seconds, records, bytes };
}

/** Restores file into a new store in dir. */
async function runRestore(dir: string, file: string): Promise<Measured> {
  const store = await LevelStateStore.open(dir);
  const start = performance.now();
  const input = createReadStream(file, { highWaterMark: 1024 * 1024 });
  const restored = await store.restore(input as AsyncIterable<Uint8Array>, { key: snapshotKey });
  const seconds = (performance.now() - start) / 1000;
  await store.close();
  const records = restored.manifest.keyCount;
  return {
    phase: 'restore',
    seconds,
    records,
    bytes: statSync(file).size,
  };
}

/** Runs one phase in this (child) process. */
function runMeasured(
  phase: Phase,
  root: string,
  keys: { n: number; synced: number },
): Promise<Measured> {
  const file = join(root, 'snapshot.bin');
  switch (phase) {
    case 'apply':
      return runApply(join(root, 'source'), keys.n, false);
    case 'raw-write':
      return runRawWrite(join(root, 'raw'), keys.n, false);
    case 'apply-sync':
      return runApply(join(root, 'synced'), keys.synced, true);
    case 'raw-write-sync':
      return runRawWrite(join(root, 'raw-synced'), keys.synced, true);
    case 'snapshot':
      return runSnapshot(join(root, 'source'), file, keys.n);
    case 'raw-read':
      return runRawRead(join(root, 'source'));
    case 'raw-copy':
      return runRawCopy(join(root, 'source'), join(root, 'raw-copy'));
    case 'restore':
      return runRestore(join(root, 'restored'), file);
  }
}

/** Runs a phase in a child process and returns what it reported. */
function child(phase: Phase, root: string, args: readonly string[]): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const proc = fork(thisFile, ['--phase', phase, '--root', root, ...args], {
      cwd: repoRoot,
      execArgv: ['--conditions=@coffer/source', '--import', 'tsx'],
    });
    let result: PhaseResult | undefined;
    proc.on('message', (message) => {
      result = message as PhaseResult;
    });
    proc.on('exit', (code) => {
      if (code === 0 && result !== undefined) {
        resolve(result);
      } else {
        reject(new Error(`bench:storage: phase ${phase} exited with code ${code}`));
      }
    });
  });
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

function row(cells: readonly string[]): string {
  const widths = [34, 18, 8, 10, 10, 20];
  return cells
    .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 10) : cell.padStart(widths[i] ?? 10)))
    .join('  ');
}

/** One line of the table: a phase, how to show its rate, and its baseline phase. */
interface Line {
  readonly name: string;
  readonly phase: Phase;
  readonly unit: 'entries/s' | 'records/s' | 'keys/s';
  readonly baseline?: {
    readonly phase: Phase;
    readonly by: 'rate' | 'bytes';
    readonly what: string;
  };
}

function lines(keys: { n: number; synced: number }): Line[] {
  return [
    {
      name: `apply, ${fmt(keys.n)} puts, batch ${batchEntries}`,
      phase: 'apply',
      unit: 'entries/s',
      baseline: { phase: 'raw-write', by: 'rate', what: 'raw write' },
    },
    { name: '  raw chained-batch writes', phase: 'raw-write', unit: 'records/s' },
    {
      name: `apply synced, ${fmt(keys.synced)} puts`,
      phase: 'apply-sync',
      unit: 'entries/s',
      baseline: { phase: 'raw-write-sync', by: 'rate', what: 'raw synced' },
    },
    { name: '  raw synced batch writes', phase: 'raw-write-sync', unit: 'records/s' },
    {
      name: `snapshot write, ${fmt(keys.n)} keys`,
      phase: 'snapshot',
      unit: 'keys/s',
      baseline: { phase: 'raw-read', by: 'bytes', what: 'raw read' },
    },
    { name: '  raw sequential read (nextv)', phase: 'raw-read', unit: 'records/s' },
    {
      name: `restore, ${fmt(keys.n)} keys`,
      phase: 'restore',
      unit: 'keys/s',
      baseline: { phase: 'raw-copy', by: 'bytes', what: 'raw copy' },
    },
    { name: '  raw copy (nextv + batch writes)', phase: 'raw-copy', unit: 'records/s' },
  ];
}

/** Prints the table: each figure beside its raw primitive. */
function report(
  results: ReadonlyMap<Phase, PhaseResult>,
  keys: { n: number; synced: number },
): void {
  const get = (phase: Phase): PhaseResult => {
    const result = results.get(phase);
    if (result === undefined) {
      throw new Error(`bench:storage: no result for ${phase}`);
    }
    return result;
  };
  const rate = (r: PhaseResult): number => r.records / r.seconds;
  const mbPerSecond = (r: PhaseResult): number => r.bytes / 1e6 / r.seconds;
  const mib = (bytes: number): string => `${fmt(bytes / 2 ** 20)} MiB`;
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores`;
  console.log(
    `bench:storage — ${machine}, Node ${process.version}, ${process.platform} ${process.arch}`,
  );
  console.log(row(['phase', 'rate', 'MB/s', 'max RSS', 'anon RSS', 'vs raw primitive']));
  for (const line of lines(keys)) {
    const r = get(line.phase);
    const base = line.baseline;
    const by = base?.by === 'rate' ? rate : mbPerSecond;
    const versus =
      base === undefined ? 'baseline' : `${fmt(by(r) / by(get(base.phase)), 2)}× ${base.what}`;
    const cells = [line.name, `${fmt(rate(r))} ${line.unit}`, fmt(mbPerSecond(r), 1)];
    console.log(row([...cells, mib(r.maxRssBytes), mib(r.maxAnonRssBytes), versus]));
  }
  console.log(
    'Targets: apply >= 50,000 entries/s; snapshot write and restore >= 50 MB/s, peak RSS < 300 MiB.',
  );
  console.log(
    'max RSS counts the table files LevelDB maps read-only (page cache); anon RSS does not.',
  );
}

async function main(): Promise<void> {
  const keys = { n: option('keys', 1_000_000), synced: option('synced-keys', 100_000) };
  const args = ['--keys', String(keys.n), '--synced-keys', String(keys.synced)];
  const phaseAt = process.argv.indexOf('--phase');
  if (phaseAt >= 0) {
    const phase = process.argv[phaseAt + 1] as Phase;
    const root = process.argv[process.argv.indexOf('--root') + 1] ?? '';
    const result = await withMemory(() => runMeasured(phase, root, keys));
    // Run by hand (to profile a phase), a child prints its result instead.
    if (process.send === undefined) {
      console.log(JSON.stringify(result));
    } else {
      process.send(result);
    }
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'coffer-bench-storage-'));
  try {
    const results = new Map<Phase, PhaseResult>();
    for (const phase of phases) {
      console.error(`bench:storage: ${phase}...`);
      results.set(phase, await child(phase, root, args));
    }
    report(results, keys);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
