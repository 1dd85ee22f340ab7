/**
 * The one call `coffer server` makes at start, before it reads a secret or opens a listener:
 * it closes the ways a local user or an operator's habit could leak the heap or a secret.
 *
 * In order: install the SIGUSR1 guard (so the inspector cannot be opened from then on); refuse
 * the inspector (execArgv, NODE_OPTIONS, or already open); refuse secret-bearing environment
 * variables; turn core dumps off (RLIMIT_CORE 0:0); warn when swap is on. Dev mode keeps the
 * guard and the core-dump attempt but turns each refusal into a warning, so a developer may
 * debug with --inspect and keep COFFER_TOKEN in the shell.
 */
import inspector from 'node:inspector';

import { type CoreDumpPorts, disableCoreDumps, systemCoreDumpPorts } from './core_dumps.ts';
import { type DebuggerSources, findDebuggerOptions, refuseDebugger } from './debugger_flags.ts';
import { installInspectorSignalGuard } from './inspector_signal_guard.ts';
import { findSecretEnvironmentVariables, refuseSecretEnvironment } from './secret_environment.ts';
import { readProcSwaps, warnIfSwapOn } from './swap_check.ts';

/** Where the hardening reports; ServerLog from @coffer/core fits. */
export interface HardeningLog {
  info(event: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(event: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** The process I/O behind {@link hardenProcess}; unit tests replace it so no real limit moves. */
export interface HardeningPorts {
  /** RLIMIT_CORE: read /proc/<pid>/limits and run prlimit. */
  readonly coreDumps: CoreDumpPorts;
  /** The text of /proc/swaps. */
  readSwaps(): string;
  /** The inspector's URL when it is open, else undefined (node:inspector url()). */
  inspectorUrl(): string | undefined;
  /** Installs the SIGUSR1 guard (installInspectorSignalGuard on `process`). */
  installSignalGuard(log: HardeningLog): void;
}

/** Options for {@link hardenProcess}. */
export interface HardenProcessOptions {
  /** `coffer server --dev`: refusals become warnings. */
  readonly dev: boolean;
  /** The environment to check, normally process.env (NODE_OPTIONS is read from it too). */
  readonly env: NodeJS.ProcessEnv;
  /** The Node options the process started with, normally process.execArgv. */
  readonly execArgv: readonly string[];
  readonly log: HardeningLog;
  /** Default {@link systemHardeningPorts}(). */
  readonly ports?: HardeningPorts;
}

/** The real ports for this process. */
export function systemHardeningPorts(): HardeningPorts {
  return {
    coreDumps: systemCoreDumpPorts(process.pid),
    readSwaps: readProcSwaps,
    inspectorUrl: () => inspector.url(),
    installSignalGuard: (log) => {
      installInspectorSignalGuard(log);
    },
  };
}

/**
 * Hardens this process for a server start; see the file comment for what and in which order.
 *
 * @throws ApiError COFFER_API_DEBUGGER_REFUSED, COFFER_API_SECRET_IN_ENVIRONMENT or
 *   COFFER_API_CORE_DUMPS_ON, outside dev mode only; the caller prints it and exits non-zero.
 */
export function hardenProcess(options: HardenProcessOptions): void {
  const { dev, env, execArgv, log } = options;
  const ports = options.ports ?? systemHardeningPorts();
  ports.installSignalGuard(log);
  const debuggerSources: DebuggerSources = {
    execArgv,
    nodeOptions: env['NODE_OPTIONS'],
    inspectorUrl: ports.inspectorUrl(),
  };
  if (dev) {
    warnInDev(log, debuggerSources, env);
  } else {
    refuseDebugger(debuggerSources);
    refuseSecretEnvironment(env);
  }
  disableCoreDumps({ dev, ports: ports.coreDumps, log });
  warnIfSwapOn(log, () => ports.readSwaps());
  log.info('process_hardened', { dev });
}

function warnInDev(
  log: HardeningLog,
  debuggerSources: DebuggerSources,
  env: NodeJS.ProcessEnv,
): void {
  const options = findDebuggerOptions(debuggerSources).map(({ option }) => option);
  if (options.length > 0 || debuggerSources.inspectorUrl !== undefined) {
    log.warn('inspector_enabled_in_dev', {
      options,
      advice: 'Allowed in dev mode only; a server outside dev mode refuses to start with it',
    });
  }
  const variables = findSecretEnvironmentVariables(env);
  if (variables.length > 0) {
    log.warn('secret_in_environment_in_dev', {
      variables,
      advice: 'Allowed in dev mode only; a server outside dev mode refuses to start with it',
    });
  }
}
