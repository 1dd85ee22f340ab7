/**
 * The targets of issue 11, checked on ratios of the same run: writes Coffer ≥ 1.0× etcd at 256
 * clients with a p99 no worse; linearizable reads on the leader Coffer ≥ 1.0× etcd at 256;
 * Coffer's reads over every node ≥ 0.9× its leader-only reads; after the leader's SIGKILL
 * Coffer's writes resume within 3 s with no failed request. A list without 256 clients is
 * checked at its largest count.
 */
import type { PhaseCell } from './cluster_phases.ts';
import type { TargetCheck } from './cluster_report.ts';
import type { FailoverResult } from './failover_phase.ts';

function find(cells: readonly PhaseCell[], phase: PhaseCell['phase'], clients: number) {
  return cells.find((cell) => cell.phase === phase && cell.clients === clients);
}

function ratioCheck(
  target: string,
  pair: { a: number | undefined; b: number | undefined; least: number },
): TargetCheck | undefined {
  if (pair.a === undefined || pair.b === undefined || pair.b === 0) {
    return undefined;
  }
  const value = pair.a / pair.b;
  return { target, measured: `${value.toFixed(2)}×`, met: value >= pair.least };
}

function steadyChecks(cells: readonly PhaseCell[], clients: number): TargetCheck[] {
  const writes = find(cells, 'writes', clients)?.systems;
  const leader = find(cells, 'reads-leader', clients)?.systems;
  const all = find(cells, 'reads-all', clients)?.systems;
  const checks = [
    ratioCheck(`writes: coffer ≥ 1.0× etcd at ${clients}`, {
      a: writes?.['coffer']?.stats.opsPerSecond,
      b: writes?.['etcd']?.stats.opsPerSecond,
      least: 1,
    }),
    ratioCheck(`writes: coffer p99 no worse than etcd's at ${clients} (etcd p99 / coffer p99)`, {
      a: writes?.['etcd']?.stats.p99Ms,
      b: writes?.['coffer']?.stats.p99Ms,
      least: 1,
    }),
    ratioCheck(`linearizable reads on the leader: coffer ≥ 1.0× etcd at ${clients}`, {
      a: leader?.['coffer']?.stats.opsPerSecond,
      b: leader?.['etcd']?.stats.opsPerSecond,
      least: 1,
    }),
    ratioCheck(`coffer reads over all nodes ≥ 0.9× leader-only at ${clients}`, {
      a: all?.['coffer']?.stats.opsPerSecond,
      b: leader?.['coffer']?.stats.opsPerSecond,
      least: 0.9,
    }),
  ];
  return checks.filter((check) => check !== undefined);
}

/** Every target this run has the numbers for. */
export function checkTargets(
  cells: readonly PhaseCell[],
  failover: Readonly<Record<string, FailoverResult>>,
  clients: readonly number[],
): TargetCheck[] {
  const at = clients.includes(256) ? 256 : Math.max(...clients);
  const checks = steadyChecks(cells, at);
  const coffer = failover['coffer'];
  if (coffer !== undefined) {
    checks.push({
      target: 'failover: coffer writes resume within 3 s, no failed request',
      measured: `${coffer.resumeMs === undefined ? 'never' : `${coffer.resumeMs} ms`}, ${coffer.failed} failed`,
      met: coffer.resumeMs !== undefined && coffer.resumeMs <= 3000 && coffer.failed === 0,
    });
  }
  return checks;
}
