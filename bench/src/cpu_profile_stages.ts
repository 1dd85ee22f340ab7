/**
 * Where a Coffer node's CPU goes, from a V8 CPU profile (`--cpu-prof`): each sample is given
 * to the innermost frame on its stack that belongs to a named stage (TLS, gRPC/HTTP2, protobuf,
 * policy check, token store, barrier, KV engine, audit, Raft, storage, logging, …), so time spent
 * in Node's crypto or in a builtin counts for the Coffer code that called it. Idle time is left
 * out of the total; samples no frame claims are "unattributed".
 *
 * Run by hand: tsx bench/src/cpu_profile_stages.ts <file.cpuprofile>
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}

interface CpuProfile {
  /** µs on CLOCK_MONOTONIC (Linux), like the samples: startTime + the deltas so far. */
  readonly startTime: number;
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Stages by the URL (or name) of a frame, most specific first. */
const stageRules: readonly (readonly [string, RegExp])[] = [
  ['audit', /packages\/core\/src\/audit\//],
  ['policy check', /packages\/core\/src\/policy\//],
  ['token store', /packages\/core\/src\/token\//],
  ['barrier (encrypt/decrypt)', /packages\/core\/src\/barrier\//],
  ['KV engine', /packages\/core\/src\/engines\//],
  ['leases', /packages\/core\/src\/lease\//],
  ['router', /packages\/core\/src\/router\//],
  ['replicated state / apply', /packages\/core\/src\/replicated\//],
  ['Raft', /packages\/raft\/src\//],
  ['cluster transport', /packages\/(core|api)\/src\/cluster\//],
  [
    'storage (LevelDB, fsync)',
    /packages\/storage\/src\/|classic-level|abstract-level|level-transcoder/,
  ],
  ['logging', /packages\/core\/src\/logging\/|pino/],
  ['core lifecycle', /packages\/core\/src\/lifecycle\//],
  ['protobuf', /protobufjs|@grpc\/proto-loader|packages\/client\/src\//],
  ['API layer (gRPC handlers, metrics)', /packages\/api\/src\//],
  ['gRPC/HTTP2', /@grpc\/grpc-js|node:internal\/http2|node:http2/],
  ['TLS', /node:_tls_wrap|node:tls|node:internal\/tls|node:_tls_common/],
  ['net/streams', /node:net|node:internal\/stream_base_commons|node:internal\/streams/],
  ['GC', /^\(garbage collector\)$/],
  ['native, outside JS: TLS/HTTP2 receive, syscalls (program)', /^\(program\)$/],
];

function stageOfFrame(node: ProfileNode): string | undefined {
  const { url, functionName } = node.callFrame;
  const key = url === '' ? functionName : url;
  return stageRules.find(([, pattern]) => pattern.test(key))?.[0];
}

/** A profile's CPU by stage. */
export interface StageBreakdown {
  readonly totalMs: number;
  readonly stages: readonly (readonly [string, number])[];
  /** The innermost frames of the unattributed samples, most frequent first. */
  readonly unattributedTop: readonly (readonly [string, number])[];
}

function parentsOf(profile: CpuProfile): Map<number, number> {
  const parents = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) {
      parents.set(child, node.id);
    }
  }
  return parents;
}

function stageFinder(profile: CpuProfile): (id: number) => string {
  const parents = parentsOf(profile);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const cache = new Map<number, string>();
  return (id) => {
    const cached = cache.get(id);
    if (cached !== undefined) {
      return cached;
    }
    let stage: string | undefined;
    for (let at: number | undefined = id; at !== undefined && stage === undefined;) {
      const node = byId.get(at);
      stage = node === undefined ? undefined : stageOfFrame(node);
      at = parents.get(at);
    }
    const found = stage ?? 'unattributed';
    cache.set(id, found);
    return found;
  };
}

function add(totals: Map<string, number>, key: string, ms: number): void {
  totals.set(key, (totals.get(key) ?? 0) + ms);
}

/**
 * CPU ms by stage, idle excluded, largest first; with `windows` ([from, to] µs on the
 * profile's clock) only the samples inside one of them.
 */
export function stagesOf(
  profile: CpuProfile,
  windows?: readonly (readonly [number, number])[],
): StageBreakdown {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const stageOf = stageFinder(profile);
  const totals = new Map<string, number>();
  const unattributed = new Map<string, number>();
  let totalMs = 0;
  let atUs = profile.startTime;
  profile.samples.forEach((id, i) => {
    const deltaUs = profile.timeDeltas[i] ?? 0;
    atUs += deltaUs;
    const node = byId.get(id);
    const inWindow =
      windows === undefined || windows.some(([from, to]) => atUs >= from && atUs <= to);
    if (node === undefined || node.callFrame.functionName === '(idle)' || !inWindow) {
      return;
    }
    const stage = stageOf(id);
    add(totals, stage, deltaUs / 1000);
    totalMs += deltaUs / 1000;
    if (stage === 'unattributed') {
      const { functionName, url } = node.callFrame;
      add(
        unattributed,
        `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}`,
        deltaUs / 1000,
      );
    }
  });
  const sorted = (map: Map<string, number>) => [...map.entries()].sort((a, b) => b[1] - a[1]);
  return { totalMs, stages: sorted(totals), unattributedTop: sorted(unattributed).slice(0, 8) };
}

/** The lines of a breakdown: busy CPU, then each stage with its seconds and share. */
export function breakdownLines(breakdown: StageBreakdown): string[] {
  const { totalMs, stages, unattributedTop } = breakdown;
  const line = ([stage, stageMs]: readonly [string, number]): string =>
    `  ${stage.padEnd(40)} ${(stageMs / 1000).toFixed(2).padStart(7)} s  ${((100 * stageMs) / totalMs).toFixed(1).padStart(5)} %`;
  return [
    `non-idle samples ${(totalMs / 1000).toFixed(2)} s on the main thread (wall time: on a shared machine it includes waits for a core; read the shares)`,
    ...stages.map(line),
    ...(unattributedTop.length === 0 ? [] : ['  unattributed, by innermost frame:']),
    ...unattributedTop.map(([frame, frameMs]) => `    ${line([frame, frameMs]).trim()}`),
  ];
}

/** Reads a .cpuprofile file. */
export function readCpuProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  for (const file of process.argv.slice(2)) {
    console.log(`${file}:`);
    console.log(breakdownLines(stagesOf(readCpuProfile(file))).join('\n'));
  }
}
