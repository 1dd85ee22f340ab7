/**
 * `coffer dev cluster [--nodes 3] [--dir ./coffer-dev-cluster]`: starts a local cluster of real
 * `coffer server` processes on loopback (DevCluster in @coffer/api), prints where everything
 * is, and stays in the foreground.
 *
 *   SIGINT, SIGTERM   stop every node (SIGTERM, SIGKILL after a grace), exit 0; a second stop
 *                     signal kills the nodes at once and exits 1
 *   during the start  the same signals stop the nodes started so far; exit 1
 *   a node exits      reported on stderr (node id, pid, exit code); nothing is restarted; once
 *                     every node has exited, the command exits 1
 *
 * Invariant: no option takes a secret, and nothing printed holds one: the root token and the
 * unseal share are named by their 0600 files only.
 */
import { InvalidArgumentError, type Command } from 'commander';

import type { CliIo } from './cli_io.ts';
import { errorLine } from './errors.ts';

/** The options of `coffer dev cluster`. */
export interface DevClusterCommandOptions {
  readonly nodes: number;
  readonly dir: string;
}

/** What the command needs of its process (tests inject their own). */
export interface DevClusterHost {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  /** Runs `listener` as the process exits (kills any node still running). */
  once(event: 'exit', listener: () => void): unknown;
  off(event: NodeJS.Signals | 'exit', listener: () => void): unknown;
  /** How this process was started: the nodes are started the same way. */
  readonly execPath: string;
  readonly execArgv: readonly string[];
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

/** The default directory, relative to the working directory. */
export const devClusterDirDefault = './coffer-dev-cluster';
/** The default node count. */
export const devClusterNodesDefault = 3;
/** NB: the same bound as devClusterNodesMax of @coffer/api, which is loaded only to run. */
const nodesMax = 7;

/** `--nodes`: a whole number from 1 to 7. */
export function parseNodeCount(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed < 1 || parsed > nodesMax) {
    throw new InvalidArgumentError(`Pass a whole number from 1 to ${String(nodesMax)}.`);
  }
  return parsed;
}

/** Signals closer together than this are one stop request (see untilStopped). */
const sameSignalWindowMs = 1000;

type DevClusterApi = typeof import('@coffer/api');
type RunningCluster = Awaited<ReturnType<DevClusterApi['DevCluster']['start']>>;

/**
 * Waits, once the cluster runs, for a stop signal (close, 0; a second one kills, 1) or for
 * every node to exit by itself (1).
 */
function untilStopped(
  cluster: RunningCluster,
  io: CliIo,
  stopRequests: { onStop: (() => void) | undefined },
): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    let stoppingSinceMs = 0;
    let killed = false;
    stopRequests.onStop = () => {
      // NB: one Ctrl-C can arrive twice: from the terminal to the whole process group, and
      // relayed by a parent such as tsx under `npm start`; a second signal that close is one.
      if (stopping && Date.now() - stoppingSinceMs < sameSignalWindowMs) {
        return;
      }
      if (stopping) {
        killed = true;
        io.stderr('Second stop signal: killing every node now\n');
        cluster.kill();
        resolve(1);
        return;
      }
      stopping = true;
      stoppingSinceMs = Date.now();
      io.stdout('Stopping every node (Ctrl-C again kills them at once)\n');
      void cluster.close().then(() => {
        if (!killed) {
          io.stdout('Stopped. The files stay in the directory.\n');
          resolve(0);
        }
      });
    };
    void cluster.allExited().then(() => {
      if (!stopping) {
        io.stderr('Every node has exited; the dev cluster is over\n');
        resolve(1);
      }
    });
  });
}

/** Runs the dev cluster until a stop signal; resolves with the exit code. */
export async function runDevCluster(
  options: DevClusterCommandOptions,
  io: CliIo,
  host: DevClusterHost,
): Promise<number> {
  const abort = new AbortController();
  const stopRequests: { onStop: (() => void) | undefined } = { onStop: undefined };
  const onSignal = (): void => {
    if (stopRequests.onStop === undefined) {
      abort.abort();
      return;
    }
    stopRequests.onStop();
  };
  let cluster: RunningCluster | undefined;
  const onExit = (): void => cluster?.kill();
  host.on('SIGINT', onSignal);
  host.on('SIGTERM', onSignal);
  host.once('exit', onExit);
  try {
    // NB: loaded here, not at the top: the server stack is heavy, and every other command's
    // start-up would pay for it.
    const api = await import('@coffer/api');
    const script = host.argv[1] ?? '';
    cluster = await api.DevCluster.start({
      dir: options.dir,
      nodeCount: options.nodes,
      command: { file: host.execPath, args: [...api.childExecArgv(host.execArgv), script] },
      env: host.env,
      signal: abort.signal,
      onProgress: (line) => {
        io.stdout(`${line}\n`);
      },
      onNodeExit: (exit) => {
        io.stderr(`${api.describeNodeExit(exit)}\n`);
      },
    });
    io.stdout(`\n${cluster.describe()}`);
    const stopped = untilStopped(cluster, io, stopRequests);
    if (abort.signal.aborted) {
      stopRequests.onStop?.();
    }
    return await stopped;
  } catch (error) {
    io.stderr(errorLine(messageOf(error), codeOf(error)));
    return 1;
  } finally {
    host.off('SIGINT', onSignal);
    host.off('SIGTERM', onSignal);
    host.off('exit', onExit);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : 'The dev cluster failed; run it again';
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** Adds `coffer dev cluster`; onExit receives the exit code when the cluster stops. */
export function registerDevClusterCommand(
  program: Command,
  io: CliIo,
  onExit: (code: number) => void,
): void {
  program
    .command('dev')
    .description('Local development: a throwaway cluster on loopback')
    .command('cluster')
    .description(
      'Start N real nodes on loopback (mTLS between them), initialized, unsealed, KV v2 at ' +
        'secret/; stays in the foreground, Ctrl-C stops them',
    )
    .option(
      '--nodes <n>',
      `how many nodes, 1 to ${String(nodesMax)}`,
      parseNodeCount,
      devClusterNodesDefault,
    )
    .option(
      '--dir <dir>',
      'an empty or new directory for configs, data, logs and the 0600 token and share files',
      devClusterDirDefault,
    )
    .action(async (options: DevClusterCommandOptions) => {
      onExit(await runDevCluster(options, io, process));
    });
}
