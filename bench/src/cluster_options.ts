/**
 * The command line of `npm run bench:cluster`:
 *
 *   --seconds <n>          measured time of each phase, per system (default 10)
 *   --warmup-seconds <n>   unmeasured load before each (default 2)
 *   --clients <list>       concurrent callers (default 16,64,256)
 *   --phases <list>        writes, reads-leader, reads-all, failover (default all, in that order)
 *   --profile              CPU profiles of the Coffer nodes (--cpu-prof), summarized by stage;
 *                          leaves out failover (a SIGKILLed node writes no profile)
 *   --no-audit             Coffer without its audit device       (a non-default knob)
 *   --etcd-flag <flag>     one more etcd flag, repeatable        (a non-default knob)
 *
 * A non-default knob or --profile marks the run as not comparable.
 */

/** The phases, in the order they run (failover last: it leaves each cluster a node short). */
export const phaseNames = ['writes', 'reads-leader', 'reads-all', 'failover'] as const;

/** One phase. */
export type PhaseName = (typeof phaseNames)[number];

/** What a run does. */
export interface ClusterBenchOptions {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly clients: readonly number[];
  readonly phases: readonly PhaseName[];
  readonly profile: boolean;
  readonly audit: boolean;
  readonly etcdFlags: readonly string[];
}

function fail(message: string): never {
  console.error(`bench:cluster: ${message}`);
  process.exit(1);
}

function valueOf(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) {
    return undefined;
  }
  const value = argv[i + 1];
  if (value === undefined || value.startsWith('--')) {
    fail(`--${name} takes a value`);
  }
  return value;
}

function positive(argv: readonly string[], name: string, fallback: number): number {
  const raw = valueOf(argv, name);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && name === 'seconds')) {
    fail(`--${name} takes a positive number`);
  }
  return value;
}

function phasesOf(argv: readonly string[], profile: boolean): PhaseName[] {
  const raw = valueOf(argv, 'phases');
  const wanted = raw === undefined ? [...phaseNames] : raw.split(',');
  const unknown = wanted.filter((p) => !(phaseNames as readonly string[]).includes(p));
  if (unknown.length > 0) {
    fail(`--phases takes ${phaseNames.join(', ')}; not ${unknown.join(', ')}`);
  }
  return phaseNames.filter((p) => wanted.includes(p) && !(profile && p === 'failover'));
}

function repeated(argv: readonly string[], name: string): string[] {
  return argv.flatMap((arg, i) => (arg === `--${name}` ? [argv[i + 1] ?? ''] : []));
}

/** Parses `argv` (process.argv.slice(2)); exits with a message on a bad option. */
export function parseClusterBenchOptions(argv: readonly string[]): ClusterBenchOptions {
  const clients = (valueOf(argv, 'clients') ?? '16,64,256').split(',').map(Number);
  if (clients.some((c) => !Number.isSafeInteger(c) || c <= 0)) {
    fail('--clients takes a comma-separated list of positive integers');
  }
  const profile = argv.includes('--profile');
  const etcdFlags = repeated(argv, 'etcd-flag');
  if (etcdFlags.some((flag) => !flag.startsWith('--'))) {
    fail('--etcd-flag takes an etcd flag such as --snapshot-count=5000');
  }
  return {
    seconds: positive(argv, 'seconds', 10),
    warmupSeconds: positive(argv, 'warmup-seconds', 2),
    clients,
    phases: phasesOf(argv, profile),
    profile,
    audit: !argv.includes('--no-audit'),
    etcdFlags,
  };
}
