/**
 * `npm run bench -w @coffer/api`: authenticated KV v2 reads and writes per second over gRPC
 * with TLS on one Coffer node, at 1, 16 and 256 concurrent clients, with p50 and p99 latency,
 * beside a bare grpc-js echo server over the same TLS, the same service definitions and the
 * same client, measured in the same run (target: at least 0.5× the echo rate at 256 clients
 * for reads).
 *
 * Each server runs in its own process (api_bench_server.ts); this process is the load: N
 * closed-loop callers spread over min(N, 16) channels (one TLS connection each), each sending
 * its next call when the last one answered. Coffer and echo alternate in slices of
 * `--slice-seconds` so load from other processes falls on both alike.
 *
 * Options: --seconds <n> per cell and server (default 3), --slice-seconds <n> (default 1),
 * --clients <list> (default 1,16,256), --only read|write, --profile <dir> (a CPU profile of the
 * Coffer server process, written there at exit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { createSelfSignedTls } from '@coffer/api';
import { loadCofferPackageDefinition } from '@coffer/client';
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  type Client,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

function positive(name: string, fallback: number): number {
  const value = Number(option(name, String(fallback)));
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`bench:api: --${name} takes a positive number`);
    process.exit(1);
  }
  return value;
}

const cellSeconds = positive('seconds', 3);
const sliceSeconds = positive('slice-seconds', 1);
const clientCounts = option('clients', '1,16,256').split(',').map(Number);
const only = option('only', '');
const profileDir = option('profile', '');
const channelsMax = 16;
const pathCount = 256;
const value = 'v'.repeat(128);
const readTarget = 0.5;

interface Served {
  readonly child: ChildProcess;
  readonly port: number;
  readonly token: string | undefined;
}

async function startServer(mode: 'coffer' | 'echo', dir: string): Promise<Served> {
  const script = new URL('./api_bench_server.ts', import.meta.url).pathname;
  const child = spawn(
    process.execPath,
    [
      ...(mode === 'coffer' && profileDir !== ''
        ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
        : []),
      '--import',
      'tsx',
      '--conditions=@coffer/source',
      script,
      mode,
      dir,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const ready = JSON.parse(line) as { port: number; token?: string };
    return { child, port: ready.port, token: ready.token };
  }
  throw new Error(`bench:api: the ${mode} server exited before it served`);
}

type KvClient = Client & Record<string, (...args: unknown[]) => unknown>;

function kvClients(port: number, caPem: string, count: number): KvClient[] {
  const loaded = loadPackageDefinition(loadCofferPackageDefinition());
  const coffer = loaded['coffer'] as unknown as { v1: { Kv: ServiceClientConstructor } };
  return Array.from(
    { length: count },
    (_, i) =>
      new coffer.v1.Kv(`127.0.0.1:${port}`, credentials.createSsl(Buffer.from(caPem)), {
        // NB: distinct options keep grpc-js from sharing one subchannel between the clients.
        'grpc.bench_channel': i,
      }) as unknown as KvClient,
  );
}

type Operation = 'read' | 'write';

interface Call {
  readonly operation: Operation;
  readonly metadata: Metadata;
  readonly index: number;
}

function call(client: KvClient, { operation, metadata, index }: Call) {
  const path = `bench/k${index % pathCount}`;
  const [method, request] =
    operation === 'read'
      ? ['Get', { mount: 'secret', path }]
      : ['Put', { mount: 'secret', path, data_json: JSON.stringify({ value }) }];
  return new Promise<void>((resolve, reject) => {
    const send = client[method];
    if (send === undefined) {
      reject(new Error(`bench:api: the client has no ${method}`));
      return;
    }
    send.call(client, request, metadata, (error: Error | null) => {
      if (error === null) {
        resolve();
      } else {
        reject(error);
      }
    });
  });
}

interface Sample {
  ops: number;
  seconds: number;
  readonly latenciesMs: number[];
}

async function closedLoop(
  clients: readonly KvClient[],
  run: { operation: Operation; callers: number; seconds: number; token: string | undefined },
  sample: Sample,
): Promise<void> {
  const metadata = new Metadata();
  if (run.token !== undefined) {
    metadata.set('coffer-token', run.token);
  }
  const started = performance.now();
  const endAt = started + run.seconds * 1000;
  let next = 0;
  const caller = async (c: number): Promise<void> => {
    const client = clients[c % clients.length];
    while (client !== undefined && performance.now() < endAt) {
      const at = performance.now();
      await call(client, { operation: run.operation, metadata, index: next++ });
      sample.latenciesMs.push(performance.now() - at);
      sample.ops++;
    }
  };
  await Promise.all(Array.from({ length: run.callers }, (_, c) => caller(c)));
  sample.seconds += (performance.now() - started) / 1000;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

function describe(sample: Sample): { rate: number; p50: number; p99: number } {
  const sorted = [...sample.latenciesMs].sort((a, b) => a - b);
  return {
    rate: sample.ops / sample.seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
  };
}

async function prefill(served: Served, caPem: string): Promise<void> {
  const metadata = new Metadata();
  metadata.set('coffer-token', served.token ?? '');
  for (const client of kvClients(served.port, caPem, 1)) {
    for (let index = 0; index < pathCount; index++) {
      await call(client, { operation: 'write', metadata, index });
    }
    client.close();
  }
}

async function measure(
  servers: { readonly coffer: Served; readonly echo: Served },
  caPem: string,
  cell: { operation: Operation; callers: number },
): Promise<{ coffer: Sample; echo: Sample }> {
  const channels = Math.min(cell.callers, channelsMax);
  const clients = {
    coffer: kvClients(servers.coffer.port, caPem, channels),
    echo: kvClients(servers.echo.port, caPem, channels),
  };
  const samples = {
    coffer: { ops: 0, seconds: 0, latenciesMs: [] } as Sample,
    echo: { ops: 0, seconds: 0, latenciesMs: [] } as Sample,
  };
  // Warm-up: connections, JIT, the first TLS handshakes.
  for (const name of ['coffer', 'echo'] as const) {
    const run = { ...cell, seconds: 0.3, token: servers[name].token };
    await closedLoop(clients[name], run, { ops: 0, seconds: 0, latenciesMs: [] });
  }
  for (let done = 0; done < cellSeconds; done += sliceSeconds) {
    for (const name of ['coffer', 'echo'] as const) {
      const run = { ...cell, seconds: sliceSeconds, token: servers[name].token };
      await closedLoop(clients[name], run, samples[name]);
    }
  }
  for (const client of [...clients.coffer, ...clients.echo]) {
    client.close();
  }
  return samples;
}

function row(cell: { operation: Operation; callers: number }, coffer: Sample, echo: Sample) {
  const c = describe(coffer);
  const e = describe(echo);
  const ratio = c.rate / e.rate;
  const target =
    cell.operation === 'read' && cell.callers === 256
      ? ` | ≥ ${readTarget}× ${ratio >= readTarget ? 'met' : 'NOT met'}`
      : '';
  return (
    `${cell.operation} | ${cell.callers} | ${c.rate.toFixed(0)} | ${e.rate.toFixed(0)} | ` +
    `${ratio.toFixed(2)}× | ${c.p50.toFixed(2)} / ${c.p99.toFixed(2)} | ` +
    `${e.p50.toFixed(2)} / ${e.p99.toFixed(2)}${target}`
  );
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-bench-api-'));
  const tls = await createSelfSignedTls({ hosts: ['127.0.0.1'] });
  await writeFile(join(dir, 'tls.json'), JSON.stringify(tls), { mode: 0o600 });
  const coffer = await startServer('coffer', dir);
  const echo = await startServer('echo', dir);
  try {
    await prefill(coffer, tls.certPem);
    const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
    console.log(`bench:api — ${cpus().length} cores, ${cpu}, Node ${process.version}`);
    console.log(
      'one node over gRPC+TLS (real LevelDB and fsync, audit off, non-root token) vs a ' +
        'grpc-js echo server (same TLS, services and client); 256 paths, 128-byte values',
    );
    console.log(
      'operation | clients | coffer ops/s | echo ops/s | coffer / echo | coffer p50 / p99 ms | echo p50 / p99 ms',
    );
    for (const operation of (['read', 'write'] as const).filter((o) => only === '' || o === only)) {
      for (const callers of clientCounts) {
        const cell = { operation, callers };
        const samples = await measure({ coffer, echo }, tls.certPem, cell);
        console.log(row(cell, samples.coffer, samples.echo));
      }
    }
  } finally {
    coffer.child.stdin?.end();
    echo.child.stdin?.end();
    await Promise.all(
      [coffer.child, echo.child].map(
        (child) => new Promise((resolve) => child.once('exit', resolve)),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
