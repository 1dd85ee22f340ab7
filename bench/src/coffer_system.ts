/**
 * Coffer under test: a three-node `DevCluster` (real `coffer server` processes from source, mTLS
 * on the cluster ports, TLS on the API, default durability), with a file audit device on and a
 * non-root token whose policy covers the bench paths, so the ACL does real matching.
 *
 * NB: the audit device is cluster state, so every node writes the same `file_path`. Nodes that
 * share a disk need per-node files (docs/design/cluster.md): each node runs in its own directory
 * (a `sh -c 'cd … && exec node …'` wrapper) and the device writes `/proc/self/cwd/audit.log`,
 * which each process resolves to its own `node-<id>/audit.log`.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { DevCluster, type CofferCommand } from '@coffer/api';
import { CofferClient } from '@coffer/client';

import {
  benchValue,
  keyOf,
  type BenchSystem,
  type LeaderInfo,
  type LoadTarget,
  type Operation,
} from './cluster_system.ts';
import { cofferKvTarget } from './coffer_kv_channels.ts';

const benchPolicy = `path "secret/data/bench/*" { capabilities = ["create", "read", "update"] }`;
const cliMain = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));
/** The audit file of each node, relative to the node's own working directory. */
const auditFilePath = '/proc/self/cwd/audit.log';
const failoverDeadlineMs = 10_000;

/** What the Coffer cluster is started with. */
export interface CofferSystemOptions {
  readonly dir: string;
  /** Where each node writes a CPU profile when it exits (--cpu-prof); absent: none. */
  readonly profileDir: string | undefined;
  /** Whether the file audit device is enabled (off is a non-default knob). */
  readonly audit: boolean;
  readonly onProgress: (line: string) => void;
}

/** `coffer server` from source, started in the node's directory (COFFER_BENCH_NODE_DIR). */
function benchCommand(profileDir: string | undefined): CofferCommand {
  const tsx = import.meta.resolve('tsx');
  return {
    file: '/bin/sh',
    args: [
      '-c',
      'cd "$COFFER_BENCH_NODE_DIR" && exec "$0" "$@"',
      process.execPath,
      ...(profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]),
      '--import',
      tsx,
      '--conditions=@coffer/source',
      '--disable-warning=DEP0123',
      cliMain,
    ],
  };
}

/** The commit the nodes run, and whether packages/ has uncommitted changes (they run too). */
function gitVersion(): string {
  try {
    const git = (args: string[]): string => execFileSync('git', args, { encoding: 'utf8' }).trim();
    const sha = git(['rev-parse', '--short', 'HEAD']);
    const dirty = git(['status', '--porcelain', '--', 'packages']) !== '';
    return `coffer ${sha}${dirty ? ' + uncommitted changes in packages/' : ''}`;
  } catch {
    return 'coffer (unknown commit)';
  }
}

/** Enables the audit device and makes the bench token (root only here, in memory). */
async function prepare(cluster: DevCluster, options: CofferSystemOptions): Promise<string> {
  const root = (await readFile(cluster.manifest.root_token_file, 'utf8')).trim();
  const client = new CofferClient({
    addresses: cluster.manifest.nodes.map((node) => node.api_address),
    caCert: await readFile(cluster.manifest.ca_cert),
    token: root,
  });
  try {
    if (options.audit) {
      options.onProgress(`Enabling the file audit device at ${auditFilePath} on every node`);
      await client.audit.enable({
        path: 'file',
        type: 'file',
        options: { file_path: auditFilePath },
      });
    }
    await client.policies.write({ name: 'bench', policy: benchPolicy });
    const created = await client.auth.tokenCreate({ policies: ['bench'], ttl: '4h' });
    const token = created.auth?.clientToken;
    if (token === undefined) {
      throw new Error('bench:cluster: token create answered without a token');
    }
    return token;
  } finally {
    client.close();
  }
}

/** Starts the Coffer cluster and returns it as a {@link BenchSystem}. */
export async function startCofferSystem(options: CofferSystemOptions): Promise<BenchSystem> {
  const cluster = await DevCluster.start({
    dir: options.dir,
    nodeCount: 3,
    command: benchCommand(options.profileDir),
    // NB: DevCluster writes server_stabilization_time_ms 1000 for a quick dev start; undefined
    // drops the key from each node's config, so the nodes run with the default (10 s; it only
    // delays a joiner's promotion to voter at the start, never a request).
    clusterSettings: { server_stabilization_time_ms: undefined },
    env: (id) => ({ ...process.env, COFFER_BENCH_NODE_DIR: join(options.dir, `node-${id}`) }),
    onProgress: (line) => {
      options.onProgress(`coffer: ${line}`);
    },
    onNodeExit: (exit) => {
      options.onProgress(`coffer: node ${exit.id} (pid ${exit.pid}) exited`);
    },
  });
  try {
    const token = await prepare(cluster, options);
    const caPem = await readFile(cluster.manifest.ca_cert, 'utf8');
    return new CofferSystem(cluster, { token, caPem, audit: options.audit });
  } catch (error) {
    await cluster.close(5000);
    throw error;
  }
}

class CofferSystem implements BenchSystem {
  readonly name = 'coffer';
  readonly version = gitVersion();
  readonly knobs: readonly string[];
  readonly #cluster: DevCluster;
  readonly #token: string;
  readonly #caPem: string;
  readonly #killed = new Set<number>();

  constructor(cluster: DevCluster, setup: { token: string; caPem: string; audit: boolean }) {
    this.#cluster = cluster;
    this.#token = setup.token;
    this.#caPem = setup.caPem;
    this.knobs = setup.audit ? [] : ['audit device off'];
  }

  #liveNodes() {
    const running = new Set(this.#cluster.runningPids());
    return this.#cluster.manifest.nodes.filter(
      (node) => running.has(node.pid) && !this.#killed.has(node.id),
    );
  }

  addresses(): readonly string[] {
    return this.#liveNodes().map((node) => node.api_address);
  }

  pids(): ReadonlyMap<string, number> {
    return new Map(this.#liveNodes().map((node) => [`node-${node.id}`, node.pid]));
  }

  async leader(): Promise<LeaderInfo> {
    const client = new CofferClient({ addresses: this.addresses(), caCert: this.#caPem });
    try {
      const data = (await client.logical.read('sys/leader')).data;
      const id = Number(data['leader_id']);
      const node = this.#cluster.manifest.nodes.find((candidate) => candidate.id === id);
      if (node === undefined) {
        throw new Error(`bench:cluster: Coffer names leader ${id}, which is not a node`);
      }
      return { node: `node-${id}`, address: node.api_address, term: Number(data['raft_term']) };
    } finally {
      client.close();
    }
  }

  target(operation: Operation, options: { addresses: readonly string[]; channels: number }) {
    return cofferKvTarget({ ...options, operation, caPem: this.#caPem, token: this.#token });
  }

  failoverTarget(channels: number): LoadTarget {
    const clients = Array.from(
      { length: channels },
      () =>
        new CofferClient({
          addresses: this.#cluster.manifest.nodes.map((node) => node.api_address),
          caCert: this.#caPem,
          token: this.#token,
          deadlineMs: failoverDeadlineMs,
        }),
    );
    return {
      senders: clients.map(
        (client) => (index: number) =>
          client.kv.put({ path: keyOf(index), data: { value: benchValue } }).then(() => undefined),
      ),
      close: () => {
        for (const client of clients) {
          client.close();
        }
      },
    };
  }

  async killLeader(): Promise<LeaderInfo> {
    const leader = await this.leader();
    const node = this.#cluster.manifest.nodes.find((n) => `node-${n.id}` === leader.node);
    if (node === undefined) {
      throw new Error(`bench:cluster: no pid for the Coffer leader ${leader.node}`);
    }
    this.#killed.add(node.id);
    process.kill(node.pid, 'SIGKILL');
    return leader;
  }

  close(): Promise<void> {
    return this.#cluster.close(15_000);
  }

  kill(): void {
    this.#cluster.kill();
  }
}
