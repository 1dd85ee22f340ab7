/**
 * The Node inspector gives whoever reaches its port the whole heap: every unsealed key and
 * token. Outside dev mode the server refuses to start when the inspector was asked for on the
 * command line (process.execArgv) or through NODE_OPTIONS, or is already open.
 */
import { ApiError, ApiErrorCode } from '../errors.ts';

/**
 * Matches a Node option that opens or arms the inspector: --inspect, --inspect-brk,
 * --inspect-port, --inspect-wait, --inspect-brk-node, --inspect-publish-uid, the legacy
 * --debug, --debug-brk, --debug-port, and any other --inspect* or --debug* (with or without
 * `=value`): refusing an unknown one costs a restart, missing one costs the heap. NB: Node accepts `_` for
 * `-` inside option names, so names are normalized first.
 */
const debuggerOptionPattern = /^--(?:inspect|debug)[a-z-]*(?:=.*)?$/;

/** Where a refused option was found. */
export type DebuggerOptionSource = 'execArgv' | 'NODE_OPTIONS';

/** A refused option and where it came from. */
export interface DebuggerOption {
  readonly option: string;
  readonly source: DebuggerOptionSource;
}

/** Where inspector options and state are looked for. */
export interface DebuggerSources {
  /** process.execArgv. */
  readonly execArgv: readonly string[];
  /** The NODE_OPTIONS variable, if set. */
  readonly nodeOptions: string | undefined;
  /** node:inspector url(): defined when the inspector is open. */
  readonly inspectorUrl: string | undefined;
}

/** Splits NODE_OPTIONS into options the way Node does for the common cases (spaces, quotes). */
export function splitNodeOptions(nodeOptions: string): readonly string[] {
  const tokens = nodeOptions.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? [];
  return tokens.map((token) => token.replace(/["']/g, ''));
}

/** True when `option` opens or arms the inspector. */
export function isDebuggerOption(option: string): boolean {
  const [name = '', ...rest] = option.split('=');
  const normalized = [name.replaceAll('_', '-'), ...rest].join('=');
  return debuggerOptionPattern.test(normalized);
}

/** Every inspector option in `execArgv` and in `nodeOptions`, in that order. */
export function findDebuggerOptions(
  sources: Pick<DebuggerSources, 'execArgv' | 'nodeOptions'>,
): readonly DebuggerOption[] {
  const fromArgv = sources.execArgv
    .filter(isDebuggerOption)
    .map((option) => ({ option: optionName(option), source: 'execArgv' as const }));
  const fromEnv = splitNodeOptions(sources.nodeOptions ?? '')
    .filter(isDebuggerOption)
    .map((option) => ({ option: optionName(option), source: 'NODE_OPTIONS' as const }));
  return [...fromArgv, ...fromEnv];
}

/**
 * Throws COFFER_API_DEBUGGER_REFUSED when an inspector option is present or the inspector is
 * already open (`inspectorUrl` defined).
 *
 * @throws ApiError COFFER_API_DEBUGGER_REFUSED
 */
export function refuseDebugger(sources: DebuggerSources): void {
  const found = findDebuggerOptions(sources);
  if (found.length === 0 && sources.inspectorUrl === undefined) {
    return;
  }
  const where =
    found.length === 0
      ? 'the inspector is already open'
      : found.map(({ option, source }) => `"${option}" in ${source}`).join(', ');
  throw new ApiError(
    ApiErrorCode.debuggerRefused,
    `Cannot start the server with the Node inspector enabled (${where}): remove the option ` +
      'from the command line and NODE_OPTIONS, since the inspector exposes every secret in ' +
      'memory, or use --dev',
  );
}

/** The option without its value: a value is a host and port, but keep messages to names. */
function optionName(option: string): string {
  return option.split('=')[0] ?? option;
}
