/**
 * `coffer server --config <file>` and `coffer server --dev`: runs a Coffer server until a
 * signal stops it.
 *
 *   SIGTERM, SIGINT   graceful close: stop accepting, let in-flight calls finish within the
 *                     config's shutdown_grace_ms, close the node (sync), exit 0; a second
 *                     signal while closing forces exit 1
 *   SIGHUP            reload: TLS certificates re-read (open connections kept), audit files
 *                     reopened (log rotation)
 *
 * Invariant: no option takes a secret. The config file names files (TLS key, PKCS#11 PIN); dev
 * mode writes its root token to a 0600 file and prints only the file's path.
 */
import { Command, Option } from 'commander';

import type { CliIo } from './cli_io.ts';

/** The options of `coffer server`. */
export interface ServerCommandOptions {
  readonly config?: string;
  readonly dev?: boolean;
  readonly devListenAddress?: string;
  readonly devHttpAddress?: string;
}

/** What the command needs of its process: signals and a hard exit (tests inject their own). */
export interface ServerProcess {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
  /** Ends the process now (a second stop signal). */
  exit(code: number): void;
}

/** A started server of either kind, as the command drives it. */
export interface RunningServer {
  /** What the operator sees once it is up (addresses, files); no secret. */
  readonly description: string;
  reload(): Promise<unknown>;
  close(): Promise<void>;
}

function errorLine(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : 'unexpected failure';
  return typeof code === 'string' && code.startsWith('COFFER_')
    ? `Error (${code}): ${message}\n`
    : `Error: ${message}\n`;
}

/**
 * Hardens the process (inspector, secret environment variables, core dumps, swap), then starts
 * the server. The config is read first: it holds no secret, and it says where the log goes.
 */
async function startServer(options: ServerCommandOptions): Promise<RunningServer> {
  // NB: loaded here, not at the top: the server stack is heavy, and every other command's
  // start-up would pay for it.
  const { CofferServer, describeServer, DevServer, hardenProcess, loadServerConfig, serverLogOf } =
    await import('@coffer/api');
  const config = options.dev === true ? undefined : await loadServerConfig(options.config ?? '');
  const log = serverLogOf(config ?? { log: { level: 'info' } });
  hardenProcess({ dev: config === undefined, env: process.env, execArgv: process.execArgv, log });
  if (config === undefined) {
    const dev = await DevServer.start({
      log,
      ...(options.devListenAddress === undefined ? {} : { grpcAddress: options.devListenAddress }),
      ...(options.devHttpAddress === undefined ? {} : { httpAddress: options.devHttpAddress }),
    });
    return {
      description: dev.describe(),
      reload: () => dev.server.reload(),
      close: () => dev.close(),
    };
  }
  const server = await CofferServer.start(config, { log });
  return {
    description: describeServer(server),
    reload: () => server.reload(),
    close: () => server.close(),
  };
}

function usageProblem(options: ServerCommandOptions): string | undefined {
  if ((options.config === undefined) === (options.dev !== true)) {
    return 'Pass exactly one of --config <file> and --dev';
  }
  if (
    options.dev !== true &&
    (options.devListenAddress !== undefined || options.devHttpAddress !== undefined)
  ) {
    return 'Pass --dev-listen-address and --dev-http-address only with --dev';
  }
  return undefined;
}

/** Runs the server until a stop signal; resolves with the exit code. */
export async function runServer(
  options: ServerCommandOptions,
  io: CliIo,
  host: ServerProcess,
): Promise<number> {
  const problem = usageProblem(options);
  if (problem !== undefined) {
    io.stderr(`Error: ${problem}\n`);
    return 1;
  }
  let server: RunningServer;
  try {
    server = await startServer(options);
  } catch (error) {
    io.stderr(errorLine(error));
    return 1;
  }
  io.stdout(server.description);
  return untilStopped(server, io, host);
}

/**
 * Installs the signal handlers on `host`; resolves with the exit code once the server has
 * closed (0, or 1 when closing failed). A second stop signal calls `host.exit(1)`.
 */
export function untilStopped(
  server: RunningServer,
  io: CliIo,
  host: ServerProcess,
): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const reload = (): void => {
      void server.reload();
    };
    const stop = (): void => {
      if (stopping) {
        io.stderr('Second stop signal: exiting now, without waiting for in-flight requests\n');
        host.exit(1);
        return;
      }
      stopping = true;
      io.stdout('Stopping: finishing in-flight requests, then closing the node\n');
      server.close().then(
        () => {
          uninstall();
          io.stdout('Stopped.\n');
          resolve(0);
        },
        (error: unknown) => {
          uninstall();
          io.stderr(errorLine(error));
          resolve(1);
        },
      );
    };
    const uninstall = (): void => {
      host.off('SIGTERM', stop);
      host.off('SIGINT', stop);
      host.off('SIGHUP', reload);
    };
    host.on('SIGTERM', stop);
    host.on('SIGINT', stop);
    host.on('SIGHUP', reload);
  });
}

/** Adds `coffer server` to the program; onExit receives the exit code when the server stops. */
export function registerServerCommand(
  program: Command,
  io: CliIo,
  onExit: (code: number) => void,
): void {
  program
    .command('server')
    .description('Run a Coffer server from a config file, or a throwaway dev server')
    .addOption(
      new Option('--config <file>', 'the server config file (.json, .yaml or .yml)').conflicts(
        'dev',
      ),
    )
    .addOption(
      new Option(
        '--dev',
        'dev mode: temporary data, self-signed TLS, initialized and unsealed (for play only)',
      ).conflicts('config'),
    )
    .option(
      '--dev-listen-address <host:port>',
      'dev mode: the gRPC address (default 127.0.0.1:8200)',
    )
    .option('--dev-http-address <host:port>', 'dev mode: the HTTP address (default 127.0.0.1:8300)')
    .action(async (options: ServerCommandOptions) => {
      onExit(await runServer(options, io, process));
    });
}
