/**
 * The output of `npm run bench:cluster`: one JSON document per run (bench/results/
 * cluster-<timestamp>.json, to compare runs), the table printed to stdout, and the targets of
 * issue 11 checked on the run's own ratios.
 */
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';

import type { SampleStats } from './closed_loop.ts';
import type { ClusterBenchOptions } from './cluster_options.ts';
import type { PhaseCell, SystemCell } from './cluster_phases.ts';
import type { FailoverResult } from './failover_phase.ts';
import { clientBoundFactor } from './noop_server.ts';

/** The machine and software of a run. */
export interface RunEnvironment {
  readonly cores: number;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly memoryGiB: number;
  readonly versions: Readonly<Record<string, string>>;
}

/** One target of issue 11 and whether this run met it. */
export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

/** Everything a run measured. */
export interface ClusterBenchReport {
  readonly startedAt: string;
  readonly environment: RunEnvironment;
  readonly options: ClusterBenchOptions;
  /** Settings off their defaults; any makes the run not comparable. */
  readonly knobs: readonly string[];
  readonly comparable: boolean;
  readonly cells: readonly PhaseCell[];
  readonly failover: Readonly<Record<string, FailoverResult>>;
  readonly targets: readonly TargetCheck[];
  /** With --profile: the Coffer leader's CPU by stage. */
  readonly profile?: unknown;
}

function grpcJsVersion(): string {
  try {
    const file = new URL('../../node_modules/@grpc/grpc-js/package.json', import.meta.url);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The machine and the versions of Node, grpc-js and the two systems. */
export function runEnvironment(versions: Readonly<Record<string, string>>): RunEnvironment {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
    kernel: release(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    versions: { ...versions, node: process.version, grpcJs: grpcJsVersion() },
  };
}

const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : '-');
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : '-');

function cpuText(cpu: Readonly<Record<string, number>>): string {
  return Object.entries(cpu)
    .filter(([name]) => name !== 'loadgen')
    .map(([name, seconds]) => `${name} ${seconds.toFixed(1)}`)
    .join(', ');
}

/** The CPU seconds of every server process together (not the load generator). */
function cpuSecondsOf(cpu: Readonly<Record<string, number>>): number {
  return Object.entries(cpu)
    .filter(([name]) => name !== 'loadgen')
    .reduce((sum, [, value]) => sum + value, 0);
}

/** Server CPU per acknowledged request, in ms: every server process of the system together. */
function cpuPerOp(cpu: Readonly<Record<string, number>>, stats: SampleStats): string {
  return stats.ops > 0 ? ((1000 * cpuSecondsOf(cpu)) / stats.ops).toFixed(2) : '-';
}

/** The ratio row's note: whether the phase is client-bound, and the no-op server's headroom. */
function phaseNote(cell: PhaseCell): string {
  const headroom = `no-op ${cell.noopHeadroom.toFixed(1)}× the faster system`;
  return cell.clientBound
    ? `phase CLIENT-BOUND (${headroom}, needs ≥ ${clientBoundFactor}×)`
    : `not client-bound (${headroom})`;
}

function statsColumns(stats: SampleStats): string[] {
  return [
    stats.opsPerSecond.toFixed(0),
    ms(stats.p50Ms),
    ms(stats.p99Ms),
    ms(stats.p999Ms),
    String(stats.errors),
  ];
}

function systemRow(cell: PhaseCell, name: string, result: SystemCell): string[] {
  const note = [
    result.clientBound ? 'CLIENT-BOUND' : '',
    result.firstError === undefined ? '' : `first error: ${result.firstError.slice(0, 60)}`,
  ].filter((text) => text !== '');
  return [
    cell.phase,
    String(cell.clients),
    name,
    ...statsColumns(result.stats),
    String(result.leaderChanges),
    cpuText(result.cpuSeconds),
    cpuPerOp(result.cpuSeconds, result.stats),
    (result.cpuSeconds['loadgen'] ?? 0).toFixed(1),
    note.join('; '),
  ];
}

function cellRows(cell: PhaseCell): string[][] {
  const rows = [
    [
      cell.phase,
      String(cell.clients),
      'noop',
      ...statsColumns(cell.noop),
      '-',
      cpuText(cell.noop.cpuSeconds),
      cpuPerOp(cell.noop.cpuSeconds, cell.noop),
      (cell.noop.cpuSeconds['loadgen'] ?? 0).toFixed(1),
      'client-bound check',
    ],
  ];
  for (const [name, result] of Object.entries(cell.systems)) {
    rows.push(systemRow(cell, name, result));
  }
  const coffer = cell.systems['coffer'];
  const etcd = cell.systems['etcd'];
  if (coffer !== undefined && etcd !== undefined) {
    const [c, e] = [coffer.stats, etcd.stats];
    rows.push([
      cell.phase,
      String(cell.clients),
      'coffer/etcd',
      ratio(c.opsPerSecond, e.opsPerSecond),
      ratio(c.p50Ms, e.p50Ms),
      ratio(c.p99Ms, e.p99Ms),
      ratio(c.p999Ms, e.p999Ms),
      '',
      '',
      '',
      ratio(cpuSecondsOf(coffer.cpuSeconds) / c.ops, cpuSecondsOf(etcd.cpuSeconds) / e.ops),
      '',
      phaseNote(cell),
    ]);
  }
  return rows;
}

function failoverRows(failover: Readonly<Record<string, FailoverResult>>): string[][] {
  return Object.entries(failover).map(([name, result]) => [
    'failover',
    '64',
    name,
    ...statsColumns(result.stats),
    String(result.leaderChanges),
    cpuText(result.cpuSeconds),
    cpuPerOp(result.cpuSeconds, result.stats),
    (result.cpuSeconds['loadgen'] ?? 0).toFixed(1),
    `killed ${result.killed} → leader ${result.leaderAfter}; writes resumed ` +
      (result.resumeMs === undefined ? 'NEVER' : `after ${result.resumeMs} ms`) +
      ` (first probe write acknowledged after ${result.probeResumeMs === undefined ? 'NEVER' : `${result.probeResumeMs} ms`})` +
      `; ${result.failed} failed`,
  ]);
}

const header = [
  'phase',
  'clients',
  'system',
  'ops/s',
  'p50 ms',
  'p99 ms',
  'p99.9 ms',
  'errors',
  'leader chg',
  'server CPU s',
  'server CPU ms/op',
  'loadgen CPU s',
  'note',
];

/** The table of `cells` and `failover`, as ` | `-separated lines (Markdown-ready). */
export function tableOf(
  cells: readonly PhaseCell[],
  failover: Readonly<Record<string, FailoverResult>>,
): string[] {
  const rows = [...cells.flatMap(cellRows), ...failoverRows(failover)];
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
}

/** The lines printed before the table: machine, versions, knobs. */
export function preambleOf(report: ClusterBenchReport): string[] {
  const env = report.environment;
  return [
    `bench:cluster — ${env.cores} cores, ${env.cpuModel}, ${env.memoryGiB} GiB, Linux ${env.kernel}`,
    `versions: ${Object.entries(env.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}`,
    report.knobs.length === 0
      ? 'knobs: all defaults (Coffer: mTLS, default durability, file audit; etcd: TLS, peer mTLS, default fsync)'
      : `knobs off their defaults: ${report.knobs.join('; ')}`,
    report.comparable ? 'comparable: yes' : 'comparable: NO (see the knobs above)',
  ];
}
