/**
 * `add-nodes N [voters=(ids)] [learners=(ids)] [log=(terms)] [term=T] [config=value ...]`:
 * adds N nodes with the next free ids. The membership defaults to the new nodes as voters;
 * `log` pre-fills each new node's log with entries of the given terms (index 1 on) to stage a
 * hand-built history, and `term` sets the stored term (default: the last log term). Any other
 * key is a RaftConfig field, e.g. `preVote=false`, `readOnlyOption=leaseBased`,
 * `snapshotChunkSizeBytes=8`.
 */
import { asNodeId, ReadOnlyOption } from '../../index.ts';
import {
  findArg,
  findSingleArg,
  parseCount,
  positionalCounts,
  type TestCase,
} from '../datadriven.ts';
import type { EnvNodeConfig, InteractionEnv } from '../interaction_env.ts';

const structuralKeys = new Set(['voters', 'learners', 'log', 'term']);
const booleanFields = new Set(['preVote', 'checkQuorum']);
const numberFields = new Set([
  'electionTimeoutTicks',
  'heartbeatIntervalTicks',
  'messageSizeBytesMax',
  'messageEntriesMax',
  'inflightMsgsMax',
  'inflightSizeBytesMax',
  'uncommittedSizeBytesMax',
  'committedSizeBytesPerReadyMax',
  'snapshotChunkSizeBytes',
  'logEntriesMax',
  'logSizeBytesMax',
  'clockDriftMaxPercent',
  'promotionLagEntriesMax',
]);

function parseBoolean(key: string, value: string): boolean {
  if (value !== 'true' && value !== 'false') {
    throw new Error(`Give "${key}" true or false, got "${value}"`);
  }
  return value === 'true';
}

function parseReadOnlyOption(value: string): EnvNodeConfig['readOnlyOption'] {
  if (value !== ReadOnlyOption.safe && value !== ReadOnlyOption.leaseBased) {
    throw new Error(`Give "readOnlyOption" safe or leaseBased, got "${value}"`);
  }
  return value;
}

/** Reads the RaftConfig fields set on the directive. */
function parseConfig(testCase: TestCase): EnvNodeConfig {
  const config: Record<string, unknown> = {};
  for (const { key, values, bare } of testCase.args) {
    if (bare || structuralKeys.has(key)) {
      continue;
    }
    const value = values[0] ?? '';
    if (booleanFields.has(key)) {
      config[key] = parseBoolean(key, value);
    } else if (numberFields.has(key)) {
      config[key] = parseCount(value, key);
    } else if (key === 'readOnlyOption') {
      config[key] = parseReadOnlyOption(value);
    } else {
      throw new Error(`Name a known option: "${key}" is neither membership nor a config field`);
    }
  }
  return config;
}

function parseIds(values: readonly string[] | undefined, name: string): number[] | undefined {
  return values?.map((v) => parseCount(v, name));
}

/** Handles `add-nodes`. */
export function handleAddNodes(env: InteractionEnv, testCase: TestCase): void {
  const [count] = positionalCounts(testCase);
  if (count === undefined || count === 0) {
    throw new Error('Give the number of nodes to add, e.g. "add-nodes 3"');
  }
  const first = Math.max(0, ...env.ids()) + 1;
  const ids = Array.from({ length: count }, (_, i) => first + i);
  const voters = parseIds(findArg(testCase, 'voters'), 'voters') ?? ids;
  const learners = parseIds(findArg(testCase, 'learners'), 'learners') ?? [];
  const logTerms = parseIds(findArg(testCase, 'log'), 'log');
  const term = findSingleArg(testCase, 'term');
  const config = parseConfig(testCase);
  for (const id of ids) {
    env.addNode({
      id: asNodeId(id),
      conf: { voters: voters.map(asNodeId), learners: learners.map(asNodeId) },
      config,
      ...(logTerms === undefined ? {} : { logTerms }),
      ...(term === undefined ? {} : { term: parseCount(term, 'term') }),
    });
  }
}
