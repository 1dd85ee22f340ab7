/**
 * The files of `coffer dev cluster` under its directory, and the free loopback ports its nodes
 * listen on:
 *
 *   <dir>/                 mode 0700, empty or new at start (never another run's or user data)
 *     ca.pem               the self-signed API certificate, which is its own CA (0644)
 *     tls-key.pem          its private key (0600)
 *     root-token           the initial root token (0600)
 *     unseal-share         the single unseal share (0600)
 *     cluster.json         what {@link DevClusterManifest} says (0600)
 *     node-<id>/coffer.yaml, data/, server.log, output.log, join.token (0600, joiners only)
 *
 * Invariant: a secret (key, token, share, join token) is written to a new 0600 file and
 * nowhere else.
 */
import { once } from 'node:events';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';

import { stringify } from 'yaml';

import { ApiError, ApiErrorCode } from '../errors.ts';

/** The loopback host every dev cluster listener binds. */
export const devClusterHost = '127.0.0.1';

/** One node's ports and files. */
export interface DevClusterNodeLayout {
  readonly id: number;
  readonly dir: string;
  readonly configFile: string;
  readonly dataDir: string;
  /** The server log (JSON lines). */
  readonly logFile: string;
  /** The process's stdout and stderr. */
  readonly outputFile: string;
  /** Joiners only: the 0600 file holding the node's one-time join token. */
  readonly joinTokenFile: string | undefined;
  /** `127.0.0.1:<port>` of the gRPC, HTTP and cluster listeners. */
  readonly grpcAddress: string;
  readonly httpAddress: string;
  readonly clusterAddress: string;
}

/** Where everything of one dev cluster lives. */
export interface DevClusterLayout {
  readonly dir: string;
  readonly caCertFile: string;
  readonly tlsKeyFile: string;
  readonly rootTokenFile: string;
  readonly unsealShareFile: string;
  readonly manifestFile: string;
  readonly nodes: readonly DevClusterNodeLayout[];
  /** More keys of every node's `cluster` section (tests: a 60 s certificate lifetime). */
  readonly clusterSettings: Readonly<Record<string, unknown>>;
}

/** `<dir>/cluster.json`: how tools and people find the running cluster; holds no secret. */
export interface DevClusterManifest {
  readonly nodes: readonly {
    readonly id: number;
    readonly pid: number;
    readonly api_address: string;
    readonly http_address: string;
    readonly cluster_address: string;
    readonly config: string;
    readonly log: string;
  }[];
  readonly ca_cert: string;
  readonly root_token_file: string;
  readonly unseal_share_file: string;
}

/** How fast a joined node is made a voter: quick, as nothing here is under load. */
const serverStabilizationMsDev = 1000;

/**
 * Makes `dir` (mode 0700) when it does not exist; refuses one that holds anything, naming what
 * to do. NB: never deletes: a previous dev cluster or a user's files stay as they are.
 */
export async function prepareDirectory(dir: string): Promise<void> {
  let entries: string[];
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    entries = await readdir(dir);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    throw new ApiError(
      ApiErrorCode.devSetupFailed,
      `Pass a directory you may write as --dir: "${dir}" cannot be made or read ` +
        `(${typeof code === 'string' ? code : 'unknown error'})`,
      { cause: error },
    );
  }
  if (entries.includes('cluster.json')) {
    throw new ApiError(
      ApiErrorCode.devSetupFailed,
      `Remove the directory "${dir}" or pass another --dir: it holds a previous dev cluster ` +
        '(cluster.json), and a dev cluster always starts from scratch',
    );
  }
  if (entries.length > 0) {
    throw new ApiError(
      ApiErrorCode.devSetupFailed,
      `Pass an empty or new directory as --dir: "${dir}" is not empty ` +
        `(it holds "${entries[0] ?? ''}"), and a dev cluster deletes nothing it did not make`,
    );
  }
  await chmod(dir, 0o700);
}

/**
 * Reserves `count` distinct free loopback ports: all are bound at once (so none repeats), then
 * released for the nodes to bind. NB: another process could take one in between; the node
 * then fails to start with its listen error, and a rerun picks other ports.
 */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let index = 0; index < count; index += 1) {
      const server = createServer();
      servers.push(server);
      server.listen(0, devClusterHost);
      await once(server, 'listening');
    }
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(
      servers.map(async (server) => {
        if (server.listening) {
          server.close();
          await once(server, 'close');
        }
      }),
    );
  }
}

/**
 * Node `id`'s files under `dir` and its listeners on `ports` (gRPC, HTTP, cluster). Node 1
 * initializes the cluster; every other node joins it.
 */
function nodeLayout(
  dir: string,
  id: number,
  ports: readonly [number, number, number],
): DevClusterNodeLayout {
  const nodeDir = join(dir, `node-${String(id)}`);
  const address = (port: number): string => `${devClusterHost}:${String(port)}`;
  return {
    id,
    dir: nodeDir,
    configFile: join(nodeDir, 'coffer.yaml'),
    dataDir: join(nodeDir, 'data'),
    logFile: join(nodeDir, 'server.log'),
    outputFile: join(nodeDir, 'output.log'),
    joinTokenFile: id === 1 ? undefined : join(nodeDir, 'join.token'),
    grpcAddress: address(ports[0]),
    httpAddress: address(ports[1]),
    clusterAddress: address(ports[2]),
  };
}

/** The layout of a cluster of `nodeCount` nodes in `dir`, on fresh free ports. */
export async function planLayout(
  dir: string,
  nodeCount: number,
  clusterSettings: Readonly<Record<string, unknown>> = {},
): Promise<DevClusterLayout> {
  const ports = await freeLoopbackPorts(3 * nodeCount);
  const nodes = Array.from({ length: nodeCount }, (_, index): DevClusterNodeLayout => {
    const [grpc = 0, http = 0, cluster = 0] = ports.slice(3 * index, 3 * index + 3);
    return nodeLayout(dir, index + 1, [grpc, http, cluster]);
  });
  return {
    dir,
    caCertFile: join(dir, 'ca.pem'),
    tlsKeyFile: join(dir, 'tls-key.pem'),
    rootTokenFile: join(dir, 'root-token'),
    unsealShareFile: join(dir, 'unseal-share'),
    manifestFile: join(dir, 'cluster.json'),
    nodes,
    clusterSettings,
  };
}

/**
 * The layout of one more node `id` for a running cluster (tests add a member under load), on
 * fresh free ports; it joins with the token in its `joinTokenFile`.
 */
export async function planExtraNode(
  layout: DevClusterLayout,
  id: number,
): Promise<DevClusterNodeLayout> {
  if (id <= 1 || layout.nodes.some((node) => node.id === id)) {
    throw new ApiError(ApiErrorCode.devSetupFailed, `Pick another node id: ${String(id)} is taken`);
  }
  const [grpc = 0, http = 0, cluster = 0] = await freeLoopbackPorts(3);
  return nodeLayout(layout.dir, id, [grpc, http, cluster]);
}

/** The server config document of one node (docs/server-config.md). */
export function nodeConfigDocument(
  layout: DevClusterLayout,
  node: DevClusterNodeLayout,
): Record<string, unknown> {
  const tls = { tls_cert_file: layout.caCertFile, tls_key_file: layout.tlsKeyFile };
  return {
    node_id: node.id,
    storage: { path: node.dataDir },
    listeners: {
      grpc: { address: node.grpcAddress, ...tls },
      http: { address: node.httpAddress, ...tls },
    },
    cluster: {
      address: node.clusterAddress,
      server_stabilization_time_ms: serverStabilizationMsDev,
      ...layout.clusterSettings,
      ...(node.joinTokenFile === undefined ? {} : { join_token_file: node.joinTokenFile }),
    },
    log: { level: 'info', file: node.logFile },
  };
}

/** Makes the node's directory (0700) and writes its config file. */
export async function writeNodeConfig(
  layout: DevClusterLayout,
  node: DevClusterNodeLayout,
): Promise<void> {
  await mkdir(node.dir, { mode: 0o700 });
  const header = '# Written by `coffer dev cluster`; see docs/server-config.md\n';
  await writeFile(node.configFile, header + stringify(nodeConfigDocument(layout, node)), {
    mode: 0o644,
    flag: 'wx',
  });
}

/** Writes `secret` (plus a newline) to a new file of mode 0600; refuses to overwrite one. */
export async function writeSecretFile(path: string, secret: string): Promise<void> {
  await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
}

/** Writes `<dir>/cluster.json` (0600). */
export async function writeManifest(
  layout: DevClusterLayout,
  manifest: DevClusterManifest,
): Promise<void> {
  await writeFile(layout.manifestFile, `${JSON.stringify(manifest, null, 2)}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
}
