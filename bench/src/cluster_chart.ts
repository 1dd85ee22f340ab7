/**
 * The chart of a `npm run bench:cluster` run, as SVG written by hand (no dependency): for each
 * steady phase, throughput (top row) and p99 latency (bottom row) per client count, Coffer and
 * etcd side by side with their values, the no-op baseline as a grey bar behind the throughput
 * pair, and a client-bound phase's client count starred; then the failover phase: the time
 * until writes resumed and the writes' p99, per system.
 */
import type { PhaseCell } from './cluster_phases.ts';
import type { ClusterBenchReport } from './cluster_report.ts';
import type { FailoverResult } from './failover_phase.ts';

const panelWidth = 300;
const panelHeight = 180;
/** The tallest bar: room above it for its value. */
const barsHeight = panelHeight - 15;
const margin = { top: 40, left: 60, gap: 50 };
const colors: Readonly<Record<string, string>> = {
  coffer: '#2f6db5',
  etcd: '#e08a1e',
  noop: '#cccccc',
};

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function text(at: { x: number; y: number }, content: string, extra = ''): string {
  return `<text x="${at.x.toFixed(1)}" y="${at.y.toFixed(1)}" ${extra}>${escape(content)}</text>`;
}

function rect(x: number, y: number, size: { w: number; h: number; fill: string }): string {
  return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${size.w.toFixed(1)}" height="${size.h.toFixed(1)}" fill="${size.fill}"/>`;
}

interface Panel {
  readonly title: string;
  readonly cells: readonly PhaseCell[];
  readonly value: (cell: PhaseCell, system: string) => number | undefined;
  readonly unit: string;
  readonly withNoop: boolean;
}

function panelSvg(panel: Panel, origin: { x: number; y: number }): string[] {
  const systems = ['coffer', 'etcd'];
  const values = panel.cells.flatMap((cell) =>
    [...systems, ...(panel.withNoop ? ['noop'] : [])].map((s) => panel.value(cell, s) ?? 0),
  );
  const max = Math.max(1e-9, ...values.filter(Number.isFinite));
  const slot = panelWidth / Math.max(1, panel.cells.length);
  const barWidth = slot / 3;
  const scale = (v: number): number => (Number.isFinite(v) ? (v / max) * barsHeight : 0);
  const base = origin.y + panelHeight;
  const parts = [
    text({ x: origin.x, y: origin.y - 10 }, panel.title, 'font-weight="bold"'),
    `<line x1="${origin.x}" y1="${base}" x2="${origin.x + panelWidth}" y2="${base}" stroke="#333"/>`,
    text(
      { x: origin.x + panelWidth, y: origin.y - 10 },
      `max ${max >= 100 ? max.toFixed(0) : max.toFixed(1)} ${panel.unit}`,
      'fill="#555" text-anchor="end"',
    ),
  ];
  panel.cells.forEach((cell, i) => {
    const x = origin.x + i * slot + slot / 6;
    const noop = panel.withNoop ? scale(panel.value(cell, 'noop') ?? 0) : 0;
    if (noop > 0) {
      parts.push(
        rect(x - 4, base - noop, { w: 2 * barWidth + 8, h: noop, fill: colors['noop'] ?? '' }),
      );
    }
    systems.forEach((system, j) => {
      const value = panel.value(cell, system) ?? 0;
      const h = scale(value);
      parts.push(
        rect(x + j * barWidth, base - h, { w: barWidth - 2, h, fill: colors[system] ?? '' }),
        text(
          { x: x + j * barWidth + barWidth / 2 - 1, y: base - h - 3 },
          value >= 100 ? value.toFixed(0) : value.toFixed(1),
          'text-anchor="middle" font-size="9"',
        ),
      );
    });
    const label = `${cell.clients} clients${cell.clientBound ? ' *' : ''}`;
    parts.push(text({ x: x + barWidth, y: base + 15 }, label, 'text-anchor="middle"'));
  });
  return parts;
}

/** The failover column: the time until writes resumed (top) and the writes' p99 (bottom). */
function failoverSvg(
  failover: ClusterBenchReport['failover'],
  origin: { x: number; y: number },
): string[] {
  const rows: readonly [string, string, (f: FailoverResult) => number | undefined][] = [
    ['failover: ms until writes resumed', 'ms', (f) => f.resumeMs],
    ['failover: writes p99 ms', 'ms', (f) => f.stats.p99Ms],
  ];
  return rows.flatMap(([title, unit, value], row) => {
    const y = origin.y + row * (panelHeight + 70);
    const entries = ['coffer', 'etcd'].map((s) => [s, failover[s]] as const);
    const max = Math.max(1e-9, ...entries.map(([, f]) => (f === undefined ? 0 : (value(f) ?? 0))));
    const base = y + panelHeight;
    const barWidth = panelWidth / 3;
    const parts = [
      text({ x: origin.x, y: y - 10 }, title, 'font-weight="bold"'),
      `<line x1="${origin.x}" y1="${base}" x2="${origin.x + panelWidth}" y2="${base}" stroke="#333"/>`,
      text(
        { x: origin.x + panelWidth, y: y - 10 },
        `max ${max.toFixed(0)} ${unit}`,
        'fill="#555" text-anchor="end"',
      ),
    ];
    entries.forEach(([system, f], j) => {
      const v = f === undefined ? undefined : value(f);
      const h = v === undefined ? 0 : (v / max) * barsHeight;
      const x = origin.x + panelWidth / 6 + j * barWidth;
      const label = v === undefined ? 'never' : v.toFixed(0);
      const failed = f === undefined ? '' : `, ${f.failed} failed`;
      parts.push(
        rect(x, base - h, { w: barWidth - 2, h, fill: colors[system] ?? '' }),
        text(
          { x: x + barWidth / 2 - 1, y: base - h - 3 },
          label,
          'text-anchor="middle" font-size="9"',
        ),
        text(
          { x: x + barWidth / 2 - 1, y: base + 15 },
          `${system}${row === 0 ? failed : ''}`,
          'text-anchor="middle"',
        ),
      );
    });
    return parts;
  });
}

/** The SVG document of `report`. */
export function chartOf(report: ClusterBenchReport): string {
  const phases = [...new Set(report.cells.map((cell) => cell.phase))];
  const columns = phases.length + (Object.keys(report.failover).length > 0 ? 1 : 0);
  const width = margin.left + columns * (panelWidth + margin.gap) + 20;
  const height = margin.top + 2 * (panelHeight + 70) + 40;
  const parts: string[] = [];
  phases.forEach((phase, i) => {
    const cells = report.cells.filter((cell) => cell.phase === phase);
    const x = margin.left + i * (panelWidth + margin.gap);
    const throughput: Panel = {
      title: `${phase}: ops/s by clients`,
      cells,
      value: (cell, s) =>
        s === 'noop' ? cell.noop.opsPerSecond : cell.systems[s]?.stats.opsPerSecond,
      unit: 'ops/s',
      withNoop: true,
    };
    const p99: Panel = {
      title: `${phase}: p99 ms by clients`,
      cells,
      value: (cell, s) => cell.systems[s]?.stats.p99Ms,
      unit: 'ms',
      withNoop: false,
    };
    parts.push(...panelSvg(throughput, { x, y: margin.top + 20 }));
    parts.push(...panelSvg(p99, { x, y: margin.top + panelHeight + 90 }));
  });
  if (columns > phases.length) {
    const x = margin.left + phases.length * (panelWidth + margin.gap);
    parts.push(...failoverSvg(report.failover, { x, y: margin.top + 20 }));
  }
  const env = report.environment;
  const legend = `coffer (blue) vs etcd (orange), no-op baseline grey; * client-bound phase — ${env.cores} cores, ${env.cpuModel}, ${report.startedAt}${report.comparable ? '' : ' — NOT COMPARABLE'}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    text({ x: margin.left, y: 20 }, legend),
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
