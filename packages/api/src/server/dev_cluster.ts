/**
 * `coffer dev cluster` (docs/design/cluster.md §9): N real `coffer server` processes on
 * loopback with mTLS between them, initialized and unsealed, with KV v2 mounted at `secret/`,
 * ready to play with. It runs in the foreground and restarts nothing by itself.
 *
 *   empty dir (0700) ─▶ ports, TLS, configs ─▶ node 1 ─▶ init (1 of 1) ─▶ share, token (0600)
 *     ─▶ unseal ─▶ secret/ (kv) ─▶ join token per joiner (0600) ─▶ joiners start (retry_join)
 *     ─▶ each initialized ─▶ each unsealed ─▶ N voters ─▶ cluster.json ─▶ running
 *   running ─▶ close(): SIGTERM each node, SIGKILL after the grace ─▶ stopped
 *
 * Invariant: the root token and the unseal share go to one 0600 file each and nowhere else:
 * not to stdout, a log line, an error message or cluster.json.
 * Invariant: a failed or interrupted start stops every node it started; it deletes nothing, so
 * the logs stay for diagnosis.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

import { CofferClient } from '@coffer/client';
import { createSelfSignedTls, type TlsMaterial } from '@coffer/core';

import { ApiError, ApiErrorCode } from '../errors.ts';
import {
  planLayout,
  prepareDirectory,
  writeManifest,
  writeNodeConfig,
  writeSecretFile,
  type DevClusterLayout,
  type DevClusterManifest,
  type DevClusterNodeLayout,
} from './dev_cluster_layout.ts';
import { exitText, NodeProcess, type CofferCommand, type NodeExit } from './dev_cluster_process.ts';

/** The most nodes a dev cluster runs (Raft clusters beyond 7 voters buy nothing). */
export const devClusterNodesMax = 7;

/** A node that exited while the cluster was running (not stopped by close()). */
export interface DevClusterNodeExit extends NodeExit {
  readonly id: number;
  readonly pid: number;
}

/** Options of {@link DevCluster.start}. */
export interface DevClusterOptions {
  /** The directory for everything; made 0700 when new; refused when not empty. */
  readonly dir: string;
  /** How many nodes, 1 to {@link devClusterNodesMax}. */
  readonly nodeCount: number;
  /** How to run `coffer` (the CLI passes its own Node and script). */
  readonly command: CofferCommand;
  /**
   * The nodes' environment before cleaning (nodeEnvironment), or one per node id (tests give
   * each node its own `grpc_proxy`); default process.env.
   */
  readonly env?: NodeJS.ProcessEnv | ((nodeId: number) => NodeJS.ProcessEnv);
  /** More keys of every node's `cluster` config section (docs/server-config.md). */
  readonly clusterSettings?: Readonly<Record<string, unknown>>;
  /** How long each step (a node's start, its join, the voters) may take. Default 60 s. */
  readonly stepDeadlineMs?: number;
  /** Aborts the start: every node started so far is stopped. */
  readonly signal?: AbortSignal;
  /** One line per setup step, for the operator (no secret). */
  readonly onProgress?: (line: string) => void;
  /** Called when a node exits by itself after the start. */
  readonly onNodeExit?: (exit: DevClusterNodeExit) => void;
}

const stepDeadlineMsDefault = 60_000;
const pollIntervalMs = 200;
/** How long a node of a failed start may take to close before it is killed. */
const failedStartGraceMs = 5000;
/** How long a node may take to close gracefully before it is killed. */
const stopGraceMsDefault = 15_000;

interface StartedNode {
  readonly layout: DevClusterNodeLayout;
  readonly child: NodeProcess;
}

/** What the setup steps share while the cluster forms. */
interface Setup {
  readonly layout: DevClusterLayout;
  readonly options: DevClusterOptions;
  readonly caCert: string;
  readonly started: StartedNode[];
  readonly clients: Map<number, CofferClient>;
  readonly deadlineMs: number;
}

function setupError(message: string, cause?: unknown): ApiError {
  return new ApiError(
    ApiErrorCode.devSetupFailed,
    message,
    cause === undefined ? undefined : { cause },
  );
}

function codeAndMessage(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : 'unexpected failure';
  return typeof code === 'string' ? `${code}: ${message}` : message;
}

function logHint(node: DevClusterNodeLayout): string {
  return `${node.logFile} and ${node.outputFile}`;
}

function interrupted(setup: Setup, cause?: unknown): ApiError {
  return setupError(
    `Start a dev cluster again with another (or an empty) --dir: the start was interrupted, ` +
      `and the nodes it had started were stopped; their files stay in "${setup.layout.dir}"`,
    cause,
  );
}

/** Throws when the start was aborted or a started node has exited. */
function checkRunning(setup: Setup): void {
  if (setup.options.signal?.aborted === true) {
    throw interrupted(setup);
  }
  const dead = setup.started.find((node) => !node.child.running);
  if (dead !== undefined) {
    throw setupError(
      `Check ${logHint(dead.layout)}: node ${String(dead.layout.id)} exited during the start`,
    );
  }
}

/**
 * Polls `condition` every 200 ms until it holds; throws after the step deadline naming `what`
 * and the last error seen (its code and message, which hold no secret).
 */
async function waitUntil(
  setup: Setup,
  what: string,
  condition: () => Promise<boolean>,
): Promise<void> {
  const until = Date.now() + setup.deadlineMs;
  let last: unknown;
  for (;;) {
    checkRunning(setup);
    try {
      if (await condition()) {
        return;
      }
    } catch (error) {
      last = error;
    }
    if (Date.now() > until) {
      const why = last === undefined ? '' : ` (last error: ${codeAndMessage(last)})`;
      throw setupError(
        `Check the node logs in ${setup.layout.dir}/node-*/: ${what} did not happen within ` +
          `${String(setup.deadlineMs)} ms${why}`,
      );
    }
    await new Promise((done) => setTimeout(done, pollIntervalMs));
  }
}

function clientOf(setup: Setup, node: DevClusterNodeLayout): CofferClient {
  let client = setup.clients.get(node.id);
  if (client === undefined) {
    client = new CofferClient({ address: node.grpcAddress, caCert: setup.caCert });
    setup.clients.set(node.id, client);
  }
  return client;
}

async function startNode(setup: Setup, node: DevClusterNodeLayout): Promise<void> {
  setup.options.onProgress?.(`Starting node ${String(node.id)} on ${node.grpcAddress}`);
  try {
    const child = await NodeProcess.start({
      command: setup.options.command,
      configFile: node.configFile,
      outputFile: node.outputFile,
      env:
        typeof setup.options.env === 'function'
          ? setup.options.env(node.id)
          : (setup.options.env ?? process.env),
      deadlineMs: setup.deadlineMs,
      ...(setup.options.signal === undefined ? {} : { signal: setup.options.signal }),
    });
    setup.started.push({ layout: node, child });
  } catch (error) {
    if (setup.options.signal?.aborted === true) {
      throw interrupted(setup, error);
    }
    const why = error instanceof Error ? error.message : 'unexpected failure';
    throw setupError(
      `Check ${logHint(node)}: node ${String(node.id)} did not start: ${why}`,
      error,
    );
  }
}

/** Init (1 share, threshold 1) on node 1; the share and root token go to their 0600 files. */
async function initialize(
  setup: Setup,
  first: DevClusterNodeLayout,
): Promise<{ readonly token: string; readonly share: string }> {
  setup.options.onProgress?.('Initializing node 1 (1 unseal share, threshold 1)');
  const init = await clientOf(setup, first).sys.init({ secretShares: 1, secretThreshold: 1 });
  const keys = init.data['keys'];
  const token = init.data['root_token'];
  const share: unknown = Array.isArray(keys) ? keys[0] : undefined;
  if (typeof share !== 'string' || typeof token !== 'string') {
    throw setupError('Start the dev cluster again: init answered without a share and a token');
  }
  await writeSecretFile(setup.layout.unsealShareFile, share);
  await writeSecretFile(setup.layout.rootTokenFile, token);
  return { token, share };
}

async function unseal(setup: Setup, node: DevClusterNodeLayout, share: string): Promise<void> {
  setup.options.onProgress?.(`Unsealing node ${String(node.id)}`);
  const client = clientOf(setup, node);
  await client.sys.unseal({ key: share });
  await waitUntil(
    setup,
    `unsealing node ${String(node.id)}`,
    async () => (await client.sys.sealStatus()).data['sealed'] === false,
  );
}

/** Waits until node 1 serves requests, then mounts KV v2 at secret/. */
async function mountKv(setup: Setup, first: DevClusterNodeLayout, token: string): Promise<void> {
  const client = clientOf(setup, first);
  await waitUntil(setup, 'node 1 becoming active', async () => {
    await client.mounts.listSecrets({ token });
    return true;
  });
  setup.options.onProgress?.('Mounting KV v2 at secret/');
  await client.mounts.enableSecrets(
    { path: 'secret', type: 'kv', description: 'KV v2, mounted by coffer dev cluster' },
    { token },
  );
}

/** Makes each joiner's one-time join token, in its 0600 file, then starts the joiners. */
async function startJoiners(
  setup: Setup,
  joiners: readonly DevClusterNodeLayout[],
  token: string,
): Promise<void> {
  const client = clientOf(setup, setup.layout.nodes[0] as DevClusterNodeLayout);
  for (const node of joiners) {
    const response = await client.logical.write('sys/storage/raft/join-token', {}, { token });
    const joinToken = response.data['join_token'];
    if (typeof joinToken !== 'string' || node.joinTokenFile === undefined) {
      throw setupError('Start the dev cluster again: the join token was not made');
    }
    await writeSecretFile(node.joinTokenFile, joinToken);
  }
  // NB: settled, not all: a failed start must not leave another one running untracked.
  const outcomes = await Promise.allSettled(joiners.map((node) => startNode(setup, node)));
  const failed = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failed !== undefined) {
    throw failed.reason;
  }
}

async function joinAndUnseal(
  setup: Setup,
  node: DevClusterNodeLayout,
  share: string,
): Promise<void> {
  const client = clientOf(setup, node);
  await waitUntil(
    setup,
    `node ${String(node.id)} joining the cluster`,
    async () => (await client.sys.sealStatus()).data['initialized'] === true,
  );
  await unseal(setup, node, share);
}

async function waitForVoters(setup: Setup, token: string): Promise<void> {
  const count = setup.layout.nodes.length;
  setup.options.onProgress?.(`Waiting until ${nodesText(count)} vote`);
  const client = clientOf(setup, setup.layout.nodes[0] as DevClusterNodeLayout);
  await waitUntil(setup, `${nodesText(count)} becoming voters`, async () => {
    const response = await client.logical.read('sys/storage/raft/configuration', { token });
    const servers = response.data['servers'];
    return (
      Array.isArray(servers) &&
      servers.filter((server) => (server as { voter?: unknown } | null)?.voter === true).length ===
        count
    );
  });
}

/** Every step from the files to N unsealed voters. */
async function formCluster(setup: Setup, tls: TlsMaterial): Promise<void> {
  const { layout } = setup;
  await writeFile(layout.caCertFile, tls.certPem, { mode: 0o644, flag: 'wx' });
  await writeSecretFile(layout.tlsKeyFile, tls.keyPem.trimEnd());
  for (const node of layout.nodes) {
    await writeNodeConfig(layout, node);
  }
  const [first, ...joiners] = layout.nodes;
  if (first === undefined) {
    throw setupError('Pass --nodes 1 or more');
  }
  await startNode(setup, first);
  const { token, share } = await initialize(setup, first);
  await unseal(setup, first, share);
  await mountKv(setup, first, token);
  if (joiners.length > 0) {
    await startJoiners(setup, joiners, token);
    for (const node of joiners) {
      await joinAndUnseal(setup, node, share);
    }
  }
  await waitForVoters(setup, token);
}

/** A running dev cluster. */
export class DevCluster {
  /** Where its files are. */
  readonly layout: DevClusterLayout;
  /** What `<dir>/cluster.json` holds. */
  readonly manifest: DevClusterManifest;
  readonly #nodes: readonly StartedNode[];
  readonly #allExited: Promise<void>;
  #closing: Promise<void> | undefined;

  private constructor(setup: Setup, manifest: DevClusterManifest) {
    this.layout = setup.layout;
    this.manifest = manifest;
    this.#nodes = [...setup.started];
    const onNodeExit = setup.options.onNodeExit;
    this.#allExited = Promise.all(
      this.#nodes.map(async ({ layout, child }) => {
        const exit = await child.exited;
        if (this.#closing === undefined) {
          onNodeExit?.({ id: layout.id, pid: child.pid, ...exit });
        }
      }),
    ).then(() => undefined);
  }

  /**
   * Starts the nodes and forms the cluster. Throws COFFER_API_DEV_SETUP_FAILED naming the step
   * that failed and the logs to read, after stopping every node it started.
   */
  static async start(options: DevClusterOptions): Promise<DevCluster> {
    if (
      !Number.isSafeInteger(options.nodeCount) ||
      options.nodeCount < 1 ||
      options.nodeCount > devClusterNodesMax
    ) {
      throw setupError(`Pass --nodes from 1 to ${String(devClusterNodesMax)}`);
    }
    const dir = resolve(options.dir);
    await prepareDirectory(dir);
    const tls = await createSelfSignedTls({ hosts: ['localhost', '127.0.0.1'] });
    const setup: Setup = {
      layout: await planLayout(dir, options.nodeCount, options.clusterSettings),
      options,
      caCert: tls.certPem,
      started: [],
      clients: new Map(),
      deadlineMs: options.stepDeadlineMs ?? stepDeadlineMsDefault,
    };
    try {
      await formCluster(setup, tls);
      const manifest = manifestOf(setup);
      await writeManifest(setup.layout, manifest);
      return new DevCluster(setup, manifest);
    } catch (error) {
      await Promise.all(setup.started.map(({ child }) => child.stop(failedStartGraceMs)));
      throw error;
    } finally {
      for (const client of setup.clients.values()) {
        client.close();
      }
    }
  }

  /** The pids of the nodes still running. */
  runningPids(): readonly number[] {
    return this.#nodes.filter(({ child }) => child.running).map(({ child }) => child.pid);
  }

  /** Resolves once every node has exited, by itself or through close(). */
  allExited(): Promise<void> {
    return this.#allExited;
  }

  /**
   * Stops every node: SIGTERM (each closes gracefully), then SIGKILL for any still running
   * after `graceMs`. Idempotent.
   */
  close(graceMs: number = stopGraceMsDefault): Promise<void> {
    this.#closing ??= Promise.all(this.#nodes.map(({ child }) => child.stop(graceMs))).then(
      () => undefined,
    );
    return this.#closing;
  }

  /** SIGKILL to every node still running, now (a second Ctrl-C, or the process exiting). */
  kill(): void {
    this.#closing ??= this.#allExited;
    for (const { child } of this.#nodes) {
      child.kill();
    }
  }

  /** What the operator needs, for stdout: nodes, addresses, files, commands; no secret. */
  describe(): string {
    const { layout, manifest } = this;
    const first = manifest.nodes[0];
    const second = manifest.nodes[1];
    const asRoot = `--token-file ${layout.rootTokenFile}`;
    return [
      `Coffer dev cluster: ${nodesText(manifest.nodes.length)} on loopback, initialized, ` +
        'unsealed, KV v2 at secret/.',
      'WARNING: for development only. The unseal share and the root token sit in files here.',
      '',
      ...manifest.nodes.map(
        (node) =>
          `  Node ${String(node.id)} (pid ${String(node.pid)}): gRPC API ${node.api_address}, ` +
          `HTTP https://${node.http_address}, cluster ${node.cluster_address}`,
      ),
      '',
      `  CA cert:       ${layout.caCertFile}`,
      `  Root token:    in ${layout.rootTokenFile} (mode 0600; never printed)`,
      `  Unseal share:  in ${layout.unsealShareFile} (mode 0600; never printed)`,
      `  Cluster file:  ${layout.manifestFile}`,
      `  Node logs:     ${layout.dir}/node-<id>/server.log`,
      '',
      'Try it (from a checkout of the repository, run coffer as npx coffer):',
      `  export COFFER_ADDR=${first?.api_address ?? ''} COFFER_CACERT=${layout.caCertFile}`,
      '  coffer status',
      `  coffer kv put secret/hello greeting=world ${asRoot}`,
      `  coffer operator raft list-peers ${asRoot}`,
      ...(second === undefined
        ? []
        : [`  coffer kv get secret/hello --address ${second.api_address} ${asRoot}`]),
      '',
      'Ctrl-C stops every node. A node that stops by itself is reported, never restarted.',
      `The data stays in ${layout.dir}; the next dev cluster needs another (or an empty) --dir.`,
      '',
    ].join('\n');
  }
}

function nodesText(count: number): string {
  return count === 1 ? '1 node' : `${String(count)} nodes`;
}

function manifestOf(setup: Setup): DevClusterManifest {
  const { layout } = setup;
  return {
    nodes: setup.started
      .map(({ layout: node, child }) => ({
        id: node.id,
        pid: child.pid,
        api_address: node.grpcAddress,
        http_address: node.httpAddress,
        cluster_address: node.clusterAddress,
        config: node.configFile,
        log: node.logFile,
      }))
      .sort((a, b) => a.id - b.id),
    ca_cert: layout.caCertFile,
    root_token_file: layout.rootTokenFile,
    unseal_share_file: layout.unsealShareFile,
  };
}

/** The node exit line for the operator: which node, and how it ended. */
export function describeNodeExit(exit: DevClusterNodeExit): string {
  return `Node ${String(exit.id)} (pid ${String(exit.pid)}) exited by itself (${exitText(exit)}); nothing restarts it`;
}
