/**
 * `npm run bench -w @coffer/core` (second part): authenticated KV v2 reads and writes per second
 * through the request router of one node — token validation, policy check, mount routing, the
 * barrier, Raft with fsync on real LevelDB — with a file audit device on (fsync per batch), and
 * the same with audit off beside it, in the same run. Targets with audit on: at least 20,000
 * reads/s and 5,000 writes/s.
 *
 * The caller is a non-root token whose policy grants the bench paths (so the ACL does real
 * matching). Each phase keeps `--concurrency` requests in flight (closed loop) over 256 paths
 * with 128-byte values. Audit off and on alternate in slices of `--slice-seconds` for
 * `--seconds` per operation, so load from other processes falls on both alike.
 *
 * Writes name no request id, as an HTTP client's do, so they are not exactly-once; with
 * `--request-ids` each write names a new one, as the Coffer client's do, and pays for its
 * request-outcome record (request_outcomes.ts).
 *
 * Options: --seconds <n> per operation and audit setting (default 4), --slice-seconds <n>
 * (default 1), --concurrency <n> (default 64), --only read|write, --audit on|off (one setting
 * only), --request-ids, --profile <dir> (a V8 CPU profile of each operation's measured slices, without set-up
 * and warm-up, written to <dir>/router-<operation>.cpuprofile).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

import { CofferNode, type CoreRequest, type CoreResponse } from '@coffer/core';
import { asNodeId } from '@coffer/raft';
import { systemClock } from '@coffer/raft/node';
import { InMemoryNetwork } from '@coffer/raft/testing';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`bench:router: --${name} takes a positive number`);
    process.exit(1);
  }
  return value;
}

const phaseSeconds = option('seconds', 4);
const sliceSeconds = option('slice-seconds', 1);
const concurrency = option('concurrency', 64);
const onlyIndex = process.argv.indexOf('--only');
const only = onlyIndex >= 0 ? process.argv[onlyIndex + 1] : undefined;
const auditIndex = process.argv.indexOf('--audit');
const auditSettings = auditIndex >= 0 ? [process.argv[auditIndex + 1] === 'on'] : [false, true];
const requestIds = process.argv.includes('--request-ids');
const profileIndex = process.argv.indexOf('--profile');
const profileDir = profileIndex >= 0 ? process.argv[profileIndex + 1] : undefined;
const pathCount = 256;
/** Request ids named so far (--request-ids): each write names a new one. */
let requestIdsNamed = 0;
const targets = { read: 20_000, write: 5_000 };

const value = 'v'.repeat(128);
const paths = Array.from({ length: pathCount }, (_, i) => `secret/data/bench/k${i}`);

async function must(node: CofferNode, request: CoreRequest): Promise<CoreResponse & { ok: true }> {
  const response = await node.handle(request);
  if (!response.ok) {
    throw new Error(`${request.operation} ${request.path}: ${response.code} ${response.message}`);
  }
  return response;
}

/** Runs `request(i)` with `concurrency` in flight for `seconds`; returns completions and latencies. */
async function closedLoop(
  node: CofferNode,
  request: (i: number) => CoreRequest,
  seconds: number,
): Promise<{ count: number; latenciesMs: number[] }> {
  const deadline = performance.now() + seconds * 1000;
  const latenciesMs: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const started = performance.now();
      const response = await node.handle(request(next++));
      if (!response.ok) {
        throw new Error(`bench request failed: ${response.code} ${response.message}`);
      }
      latenciesMs.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { count: latenciesMs.length, latenciesMs };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

interface Totals {
  count: number;
  seconds: number;
  latenciesMs: number[];
  /** Process CPU time (user + system) spent in the slices, µs. */
  cpuMicros: number;
}

/** A node on real LevelDB in `root`, initialized, with KV v2 at secret/ and a bench token. */
async function setUp(
  root: string,
): Promise<{ node: CofferNode; rootToken: string; token: string }> {
  const network = new InMemoryNetwork();
  let seed = 11;
  const node = await CofferNode.open({
    dataDir: join(root, 'node'),
    id: 1,
    confState: { voters: [asNodeId(1)], learners: [] },
    transport: () => network.connect(asNodeId(1)),
    clock: systemClock,
    randomInt: (n) => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) % n,
    wallClockMs: () => Date.now(),
    seal: { type: 'shamir' },
  });
  while (node.raftNode?.raw.status().softState.role !== 'leader') {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const init = await node.init({ shares: 1, threshold: 1 });
  const rootToken = init.rootToken ?? '';
  await must(node, {
    operation: 'update',
    path: 'sys/mounts/secret',
    token: rootToken,
    data: { type: 'kv' },
  });
  await must(node, {
    operation: 'update',
    path: 'sys/policies/acl/bench',
    token: rootToken,
    data: { policy: 'path "secret/data/bench/*" { capabilities = ["create", "read", "update"] }' },
  });
  const created = await must(node, {
    operation: 'update',
    path: 'auth/token/create',
    token: rootToken,
    data: { policies: ['bench'], ttl: '1h' },
  });
  const token = created.auth?.clientToken ?? '';
  for (const path of paths) {
    await must(node, { operation: 'update', path, token, data: { data: { value } } });
  }
  return { node, rootToken, token };
}

/** Profiles run() with the V8 CPU profiler into profileDir/name.cpuprofile (if asked). */
async function profiled<T>(name: string, run: () => Promise<T>): Promise<T> {
  if (profileDir === undefined) {
    return run();
  }
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 }); // µs
  await session.post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(join(profileDir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

/** Alternates audit off and on in slices for one operation; sums each side. */
async function measure(
  node: CofferNode,
  operation: { readonly name: string; readonly request: (i: number) => CoreRequest },
  setAudit: (on: boolean) => Promise<void>,
): Promise<{ off: Totals; on: Totals }> {
  const { name, request } = operation;
  await closedLoop(node, request, 1); // warm-up
  return profiled(`router-${name}`, () => measureSlices(node, request, setAudit));
}

async function measureSlices(
  node: CofferNode,
  request: (i: number) => CoreRequest,
  setAudit: (on: boolean) => Promise<void>,
): Promise<{ off: Totals; on: Totals }> {
  const off: Totals = { count: 0, seconds: 0, latenciesMs: [], cpuMicros: 0 };
  const on: Totals = { count: 0, seconds: 0, latenciesMs: [], cpuMicros: 0 };
  for (let elapsed = 0; elapsed < phaseSeconds; elapsed += sliceSeconds) {
    for (const audit of auditSettings) {
      await setAudit(audit);
      const cpuBefore = process.cpuUsage();
      const slice = await closedLoop(node, request, sliceSeconds);
      const cpu = process.cpuUsage(cpuBefore);
      const totals = audit ? on : off;
      totals.count += slice.count;
      totals.seconds += sliceSeconds;
      totals.latenciesMs.push(...slice.latenciesMs);
      totals.cpuMicros += cpu.user + cpu.system;
      if (audit) {
        await setAudit(false);
      }
    }
  }
  return { off, on };
}

function report(results: Record<string, { off: Totals; on: Totals }>): void {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`bench:router — ${cpus().length} cores, ${cpu}, Node ${process.version}`);
  console.log(
    `one node, real LevelDB and fsync, ${concurrency} requests in flight, ${pathCount} paths, ` +
      `${value.length}-byte values, non-root token; audit: one file device, fsync per batch; ` +
      `writes ${requestIds ? 'name a request id (exactly-once)' : 'name no request id'}`,
  );
  console.log(
    'operation | audit off ops/s | audit on ops/s | on / off | CPU µs/op off, on | p50 / p99 ms (on) | target (on)',
  );
  for (const [name, { off, on }] of Object.entries(results)) {
    const offRate = off.count / off.seconds;
    const onRate = on.count / on.seconds;
    const sorted = on.latenciesMs.sort((a, b) => a - b);
    const target = targets[name as keyof typeof targets];
    console.log(
      `${name} | ${offRate.toFixed(0)} | ${onRate.toFixed(0)} | ${((onRate / offRate) * 100).toFixed(0)}% | ` +
        `${(off.cpuMicros / off.count).toFixed(0)}, ${(on.cpuMicros / on.count).toFixed(0)} | ` +
        `${percentile(sorted, 0.5).toFixed(2)} / ${percentile(sorted, 0.99).toFixed(2)} | ` +
        `≥ ${target} ${onRate >= target ? 'met' : 'NOT met'}`,
    );
  }
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'coffer-bench-router-'));
  const { node, rootToken, token } = await setUp(root);
  try {
    const auditFile = join(root, 'audit.log');
    const setAudit = async (on: boolean): Promise<void> => {
      await must(node, {
        operation: on ? 'update' : 'delete',
        path: 'sys/audit/bench',
        token: rootToken,
        ...(on ? { data: { type: 'file', options: { file_path: auditFile } } } : {}),
      });
    };
    const operations = {
      write: (i: number): CoreRequest => ({
        ...(requestIds ? { requestId: `bench-${String(++requestIdsNamed)}` } : {}),
        operation: 'update',
        path: paths[i % pathCount] ?? '',
        token,
        data: { data: { value } },
      }),
      read: (i: number): CoreRequest => ({
        operation: 'read',
        path: paths[i % pathCount] ?? '',
        token,
      }),
    };
    const results: Record<string, { off: Totals; on: Totals }> = {};
    for (const [name, request] of Object.entries(operations)) {
      if (only === undefined || only === name) {
        results[name] = await measure(node, { name, request }, setAudit);
      }
    }
    report(results);
  } finally {
    await node.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
