/**
 * `npm run bench:cluster` (issue 11): Coffer and etcd side by side in one run on one machine.
 * A three-node Coffer cluster (DevCluster: mTLS between nodes, TLS API, default durability, a
 * file audit device) and a three-member etcd 3.4 (client TLS, peer mTLS, default fsync), both on
 * loopback with their data under one temporary directory, are driven by this one process with
 * the same closed-loop load (closed_loop.ts), the same grpc-js, 128-byte values and 1000 keys:
 *
 *   writes        KV v2 put on the leader         vs etcd Put on the leader
 *   reads-leader  KV v2 get on the leader         vs etcd linearizable Range on the leader
 *   reads-all     the same reads over every node  vs the same over every member
 *   failover      the leader SIGKILLed during writes: time until writes resume, failed requests
 *
 * at 16, 64 and 256 clients, each for a fixed time after a warm-up, after a no-op TLS gRPC
 * server run that flags a client-bound number (noop_server.ts). Output: a table on stdout,
 * bench/results/cluster-<timestamp>.json and .svg. Options: cluster_options.ts.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chartOf } from './cluster_chart.ts';
import { parseClusterBenchOptions, type ClusterBenchOptions } from './cluster_options.ts';
import { runCell, type PhaseCell } from './cluster_phases.ts';
import { preambleOf, runEnvironment, tableOf, type ClusterBenchReport } from './cluster_report.ts';
import { prefill, type BenchSystem } from './cluster_system.ts';
import {
  attributePhase,
  attributionLines,
  nodeProfiles,
  threadRoleLines,
  type PhaseAttribution,
} from './cluster_profile.ts';
import { checkTargets } from './cluster_targets.ts';
import { startCofferSystem } from './coffer_system.ts';
import { breakdownLines, readCpuProfile, stagesOf } from './cpu_profile_stages.ts';
import { ensureEtcdInstalled } from './etcd_cluster.ts';
import { startEtcdSystem } from './etcd_system.ts';
import { runFailover, type FailoverResult } from './failover_phase.ts';
import { startNoopServer, type NoopServer } from './noop_server.ts';

const resultsDir = fileURLToPath(new URL('../results', import.meta.url));

function log(line: string): void {
  console.error(`[bench:cluster] ${line}`);
}

interface Running {
  noop?: NoopServer;
  systems: BenchSystem[];
}

/** Starts everything into `running`, so that a failed start still stops what it started. */
async function startAll(
  running: Running,
  options: ClusterBenchOptions,
  where: { dir: string; profileDir: string | undefined },
): Promise<void> {
  const { dir, profileDir } = where;
  const etcdVersion = ensureEtcdInstalled(log);
  process.once('SIGINT', () => {
    for (const system of running.systems) {
      system.kill();
    }
    process.exit(130);
  });
  await mkdir(join(dir, 'noop'));
  running.noop = await startNoopServer(join(dir, 'noop'));
  log('Starting the Coffer cluster');
  running.systems.push(
    await startCofferSystem({
      dir: join(dir, 'coffer'),
      profileDir,
      audit: options.audit,
      onProgress: log,
    }),
  );
  log('Starting the etcd cluster');
  running.systems.push(
    await startEtcdSystem({
      dir: join(dir, 'etcd'),
      version: etcdVersion,
      extraFlags: options.etcdFlags,
    }),
  );
  for (const system of running.systems) {
    log(`Writing every key once on ${system.name}`);
    await prefill(system);
  }
}

async function steadyPhases(running: Running, options: ClusterBenchOptions): Promise<PhaseCell[]> {
  const cells: PhaseCell[] = [];
  const noop = running.noop;
  if (noop === undefined) {
    return cells;
  }
  for (const phase of options.phases) {
    if (phase === 'failover') {
      continue;
    }
    for (const clients of options.clients) {
      // NB: the order alternates from cell to cell, so neither system always runs second.
      const systems = cells.length % 2 === 0 ? running.systems : [...running.systems].reverse();
      log(`${phase} at ${clients} clients`);
      const cell = await runCell(systems, noop, { phase, clients, timing: options });
      cells.push(cell);
      console.log(tableOf([cell], {}).slice(2).join('\n'));
    }
  }
  return cells;
}

/**
 * Coffer's CPU per request by stage over the whole cluster (cluster_profile.ts), then the
 * leader's main thread by stage, in each steady phase's measured windows.
 */
async function profileSummary(
  dir: string,
  run: {
    leaderPid: number | undefined;
    pids: ReadonlyMap<string, number>;
    cells: readonly PhaseCell[];
  },
): Promise<unknown> {
  const profiles = await nodeProfiles(dir, run.pids);
  const perRequest: PhaseAttribution[] = [];
  for (const phase of new Set(run.cells.map((cell) => cell.phase))) {
    const cells = run.cells.filter((cell) => cell.phase === phase);
    const attribution = attributePhase(phase, cells, profiles);
    console.log(`\n${attributionLines(attribution).join('\n')}`);
    perRequest.push(attribution);
  }
  return { perRequest, leaderMainThread: await leaderSummary(dir, run) };
}

/** The Coffer leader's main thread by stage in each steady phase's measured windows. */
async function leaderSummary(
  dir: string,
  run: { leaderPid: number | undefined; cells: readonly PhaseCell[] },
): Promise<unknown> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  const leaderFile = files.find(
    (f) => run.leaderPid !== undefined && f.includes(`.${run.leaderPid}.0.`),
  );
  if (leaderFile === undefined) {
    log(`No CPU profile of the leader (pid ${run.leaderPid ?? '?'}) in ${dir}`);
    return { dir, files };
  }
  const profile = readCpuProfile(join(dir, leaderFile));
  const phases: Record<string, unknown> = {};
  for (const phase of new Set(run.cells.map((cell) => cell.phase))) {
    const windows = run.cells
      .filter((cell) => cell.phase === phase)
      .flatMap((cell) => {
        const coffer = cell.systems['coffer'];
        return coffer === undefined ? [] : [coffer.monotonicUs];
      });
    const breakdown = stagesOf(profile, windows);
    console.log(`\nCoffer leader CPU by stage, ${phase} (${leaderFile}):`);
    console.log(breakdownLines(breakdown).join('\n'));
    phases[phase] = breakdown;
  }
  return { dir, leaderFile, phases };
}

async function main(): Promise<void> {
  const options = parseClusterBenchOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const stamp = startedAt.replace(/[:.]/g, '-');
  await mkdir(resultsDir, { recursive: true });
  const profileDir = options.profile ? join(resultsDir, `cluster-${stamp}-profiles`) : undefined;
  if (profileDir !== undefined) {
    await mkdir(profileDir, { recursive: true });
  }
  const dir = await mkdtemp(join(tmpdir(), 'coffer-bench-cluster-'));
  const running: Running = { systems: [] };
  const failover: Record<string, FailoverResult> = {};
  let cells: PhaseCell[] = [];
  let leaderPid: number | undefined;
  let cofferPids: ReadonlyMap<string, number> = new Map();
  let finished = false;
  try {
    await startAll(running, options, { dir, profileDir });
    cells = await steadyPhases(running, options);
    if (options.phases.includes('failover')) {
      for (const system of running.systems) {
        log(`failover on ${system.name}: SIGKILL of the leader during writes`);
        failover[system.name] = await runFailover(system, options.seconds);
      }
    }
    const coffer = running.systems.find((s) => s.name === 'coffer');
    cofferPids = coffer?.pids() ?? cofferPids;
    leaderPid = coffer === undefined ? undefined : cofferPids.get((await coffer.leader()).node);
    finished = true;
  } finally {
    for (const system of running.systems) {
      await system.close();
    }
    await running.noop?.close();
    if (finished) {
      await rm(dir, { recursive: true, force: true });
    } else {
      // NB: a scratch cluster's files (logs, and its throwaway keys and tokens, 0600) stay for diagnosis.
      log(`The run failed; its clusters' files and logs stay in ${dir}`);
    }
  }
  const knobs = [
    ...running.systems.flatMap((s) => s.knobs),
    ...(options.profile ? ['Coffer nodes run with --cpu-prof (--profile)'] : []),
  ];
  const versions = Object.fromEntries(running.systems.map((s) => [s.name, s.version]));
  const report: ClusterBenchReport = {
    startedAt,
    environment: runEnvironment(versions),
    options,
    knobs,
    comparable: knobs.length === 0,
    cells,
    failover,
    targets: checkTargets(cells, failover, options.clients),
    ...(profileDir === undefined
      ? {}
      : { profile: await profileSummary(profileDir, { leaderPid, pids: cofferPids, cells }) }),
  };
  print(report);
  const base = join(resultsDir, `cluster-${stamp}`);
  await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(`${base}.svg`, chartOf(report));
  console.log(`\nWrote ${base}.json and ${base}.svg`);
}

function print(report: ClusterBenchReport): void {
  console.log(`\n${preambleOf(report).join('\n')}`);
  console.log(
    'setup: Coffer DevCluster nodes with every config key at its default (server_stabilization_time_ms included); etcd members with only their names, URLs, cluster and TLS flags',
  );
  console.log(tableOf(report.cells, report.failover).join('\n'));
  const threads = threadRoleLines(report.cells);
  if (threads.length > 0) {
    console.log(`\n${threads.join('\n')}`);
  }
  console.log('\ntargets (ratios of this run):');
  for (const check of report.targets) {
    console.log(`  ${check.met ? 'met    ' : 'NOT met'}  ${check.target}: ${check.measured}`);
  }
}

await main();
