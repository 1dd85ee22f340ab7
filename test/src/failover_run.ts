/**
 * One failover run (issue 9's failover proof): a three-node dev cluster on loopback, writers
 * putting unique keys and creating tokens through a client that knows every node, and the
 * leader SIGKILLed `kills` times. After each kill the run measures the time from the kill to
 * the first acknowledged write sent after it, restarts the killed node, unseals it and waits
 * until it has caught up and serves. At the end it counts failed requests, writes applied more
 * than once (a key at version 2), tokens created more than once (by their leases), and the
 * acknowledged writes each node is missing (read through that node alone).
 *
 * Beside the writers, history clients read, put and compare-and-set a few shared keys through
 * every node, for the linearizability checker.
 *
 * Used by the CI test (failover_e2e.test.ts) and by the hand-run soak (failover_soak.ts). The
 * dev cluster listens on loopback only; every wait has a deadline; the cluster and its
 * directory are removed at the end, also on failure.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DevCluster, type CofferCommand, type DevClusterManifest } from '@coffer/api';
import { CofferClient } from '@coffer/client';
import type { KvOperation } from '@coffer/raft/testing';

import { spawnServer, waitFor, withServerOutput } from './coffer_processes.ts';
import { startKvHistory, type KvHistoryLoad } from './kv_history.ts';

/** What a run does. */
export interface FailoverRunOptions {
  /** How `coffer` runs (DevCluster's command). */
  readonly command: CofferCommand;
  readonly kills: number;
  /** The pause between a restarted node serving again and the next kill. */
  readonly intervalMs: number;
  readonly writers: number;
  /** Progress lines (one per kill). */
  readonly log: (line: string) => void;
}

/** What a run saw. */
export interface FailoverReport {
  readonly resumes: readonly {
    readonly kill: number;
    readonly leader: number;
    readonly resumeMs: number;
  }[];
  readonly acked: number;
  readonly failed: number;
  readonly failures: Readonly<Record<string, number>>;
  /** Acknowledged writes found at a version above 1. */
  readonly appliedTwice: number;
  readonly tokensAcked: number;
  readonly tokensCreated: number;
  /** Per node id, the acknowledged writes it does not serve. */
  readonly missingByNode: Readonly<Record<number, number>>;
  /** Terms advanced over the run: each election is a new term. */
  readonly elections: number;
  /** The history clients' operations on the shared keys, for the checker. */
  readonly history: readonly KvOperation[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Reads `keys` through `client` 64 at a time; returns how many are missing and how many are past
 * version 1 (written twice).
 */
async function versionsOf(
  client: CofferClient,
  keys: readonly string[],
): Promise<{ readonly missing: number; readonly twice: number }> {
  let missing = 0;
  let twice = 0;
  for (let start = 0; start < keys.length; start += 64) {
    const versions = await Promise.all(
      keys.slice(start, start + 64).map((path) =>
        client.kv.get({ mount: 'secret', path }).then(
          (read) => (read.data['metadata'] as { version?: number } | undefined)?.version,
          () => undefined,
        ),
      ),
    );
    missing += versions.filter((version) => version === undefined).length;
    twice += versions.filter((version) => version !== undefined && version > 1).length;
  }
  return { missing, twice };
}

/** The load: writers through a client that knows every node, and what they saw. */
class Load {
  readonly acked: string[] = [];
  /** When each acknowledged request was sent and answered. */
  readonly acks: { readonly sent: number; readonly answered: number }[] = [];
  readonly failures: Record<string, number> = {};
  failed = 0;
  tokensAcked = 0;
  #stop = false;
  readonly #running: Promise<void>[];
  readonly historyClients: KvHistoryLoad;

  constructor(client: CofferClient, writers: number, newClient: () => CofferClient) {
    this.#running = Array.from({ length: writers }, (_, w) => this.#write(client, w));
    this.historyClients = startKvHistory({ count: 3, newClient });
  }

  /** The failed calls of writers and history clients, by code. */
  allFailures(): Record<string, number> {
    const all = { ...this.failures };
    for (const code of this.historyClients.failures) {
      all[code] = (all[code] ?? 0) + 1;
    }
    return all;
  }

  /** When the first request sent after `atMs` was answered, or undefined. */
  firstAnsweredAfter(atMs: number): number | undefined {
    return this.acks.find((a) => a.sent > atMs)?.answered;
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all([...this.#running, this.historyClients.stop()]);
  }

  async #write(client: CofferClient, w: number): Promise<void> {
    for (let n = 0; !this.#stop; n++) {
      const sent = Date.now();
      try {
        if (w === 0 && n % 4 === 0) {
          await client.auth.tokenCreate({ policies: ['default'], ttl: '1h' });
          this.tokensAcked += 1;
        } else {
          const key = `soak/w${String(w)}-${String(n)}`;
          await client.kv.put({ mount: 'secret', path: key, data: { n } });
          this.acked.push(key);
        }
        this.acks.push({ sent, answered: Date.now() });
      } catch (error) {
        this.failed += 1;
        const code = (error as { code?: string }).code ?? 'unknown';
        this.failures[code] = (this.failures[code] ?? 0) + 1;
      }
    }
  }
}

/** What the dev cluster wrote to its files. */
interface ClusterSecrets {
  readonly caCert: Buffer;
  readonly rootToken: string;
  readonly share: string;
}

/** The running cluster: its manifest, secrets, node pids and clients. */
class Cluster {
  readonly restarted: ChildProcess[] = [];
  readonly #clients: CofferClient[] = [];
  readonly #pids: Map<number, number>;
  readonly client: CofferClient;

  readonly manifest: DevClusterManifest;
  readonly secrets: ClusterSecrets;
  readonly command: CofferCommand;

  constructor(manifest: DevClusterManifest, secrets: ClusterSecrets, command: CofferCommand) {
    this.manifest = manifest;
    this.secrets = secrets;
    this.command = command;
    this.#pids = new Map(manifest.nodes.map((n) => [n.id, n.pid]));
    this.client = this.everyNodeClient();
  }

  /** A new client that knows every node. */
  everyNodeClient(): CofferClient {
    return this.#track(
      new CofferClient({
        addresses: this.manifest.nodes.map((n) => n.api_address),
        caCert: this.secrets.caCert,
      }),
    );
  }

  nodeClient(address: string): CofferClient {
    return this.#track(new CofferClient({ address, caCert: this.secrets.caCert }));
  }

  async term(): Promise<number> {
    return Number((await this.client.logical.read('sys/leader')).data['raft_term']);
  }

  /** Tokens with a lease under their creation path: every token with a TTL has one. */
  async tokenLeases(): Promise<number> {
    const listed = await this.client.logical.list('sys/leases/lookup/auth/token/create/');
    return (listed.data['keys'] as unknown[]).length;
  }

  /** SIGKILLs the leader; returns its id and when. */
  async killLeader(): Promise<{ readonly leaderId: number; readonly killedAt: number }> {
    const leaderId = Number((await this.client.logical.read('sys/leader')).data['leader_id']);
    const pid = this.#pids.get(leaderId);
    if (pid === undefined) {
      throw new Error('no leader to kill');
    }
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    return { leaderId, killedAt };
  }

  /**
   * Starts node `id` again, unseals it, and waits until it caught up and serves `probe`;
   * returns how long each step took (ms).
   */
  async restart(
    id: number,
    probe: string | undefined,
  ): Promise<{ listening: number; unsealed: number; serving: number }> {
    const startedAt = Date.now();
    const node = this.manifest.nodes.find((n) => n.id === id);
    if (node === undefined) {
      throw new Error(`no node ${String(id)}`);
    }
    const server = spawnServer(node.config, { command: this.command });
    this.restarted.push(server.child);
    this.#pids.set(id, server.child.pid ?? 0);
    const again = this.nodeClient(node.api_address);
    return withServerOutput(server, async () => {
      await waitFor(`node ${String(id)} to listen`, async () => {
        await again.sys.sealStatus();
        return true;
      });
      const listeningAt = Date.now();
      await again.sys.unseal({ key: this.secrets.share });
      const unsealedAt = Date.now();
      // NB: a read on the node itself is linearizable (a ReadIndex round, then applying up to
      // it), so serving the last acknowledged write proves it caught up; comparing its applied
      // and committed indexes under continuous writes would chase a moving target.
      await waitFor(`node ${String(id)} to catch up and serve`, async () => {
        const seen = (await again.logical.read('sys/leader')).data;
        if (probe !== undefined) {
          await again.kv.get({ mount: 'secret', path: probe });
        }
        return Number(seen['leader_id']) > 0;
      });
      return {
        listening: listeningAt - startedAt,
        unsealed: unsealedAt - listeningAt,
        serving: Date.now() - unsealedAt,
      };
    });
  }

  close(): void {
    for (const made of this.#clients) {
      made.close();
    }
    for (const child of this.restarted) {
      child.kill('SIGKILL');
    }
  }

  #track(client: CofferClient): CofferClient {
    this.#clients.push(client);
    return client.withToken(this.secrets.rootToken);
  }
}

async function openCluster(dev: DevCluster, command: CofferCommand): Promise<Cluster> {
  const manifest = dev.manifest;
  return new Cluster(
    manifest,
    {
      caCert: await readFile(manifest.ca_cert),
      rootToken: (await readFile(manifest.root_token_file, 'utf8')).trim(),
      share: (await readFile(manifest.unseal_share_file, 'utf8')).trim(),
    },
    command,
  );
}

/** The kills, one after another, each with its restart. */
async function killAndRestart(
  cluster: Cluster,
  load: Load,
  options: FailoverRunOptions,
): Promise<FailoverReport['resumes']> {
  const resumes: { kill: number; leader: number; resumeMs: number }[] = [];
  for (let kill = 1; kill <= options.kills; kill++) {
    await sleep(options.intervalMs);
    const { leaderId, killedAt } = await cluster.killLeader();
    // NB: a request sent after the kill: one in flight before it may be answered by the old
    // leader's commit and say nothing about the new one.
    await waitFor(`a write after kill ${String(kill)}`, () =>
      Promise.resolve(load.firstAnsweredAfter(killedAt) !== undefined),
    );
    const resumeMs = (load.firstAnsweredAfter(killedAt) ?? killedAt) - killedAt;
    resumes.push({ kill, leader: leaderId, resumeMs });
    options.log(
      `kill ${String(kill)}: node ${String(leaderId)} SIGKILLed; writes resumed after ${String(resumeMs)} ms`,
    );
    const took = await cluster.restart(leaderId, load.acked.at(-1));
    options.log(
      `  node ${String(leaderId)} restarted: listening after ${String(took.listening)} ms, unsealed in ${String(took.unsealed)} ms, serving after ${String(took.serving)} ms more`,
    );
  }
  return resumes;
}

/** Runs the kills against a new dev cluster in a temporary directory, and reports. */
export async function runFailover(options: FailoverRunOptions): Promise<FailoverReport> {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-failover-'));
  let dev: DevCluster | undefined;
  let cluster: Cluster | undefined;
  try {
    dev = await DevCluster.start({
      dir: join(dir, 'cluster'),
      nodeCount: 3,
      command: options.command,
    });
    cluster = await openCluster(dev, options.command);
    const tokensBefore = await cluster.tokenLeases();
    const firstTerm = await cluster.term();
    const everyNode = cluster;
    const load = new Load(cluster.client, options.writers, () => everyNode.everyNodeClient());
    const resumes = await killAndRestart(cluster, load, options).finally(() => load.stop());
    // NB: each node reads every acknowledged key itself (a linearizable read on that node).
    const checkedFrom = Date.now();
    const missingByNode: Record<number, number> = {};
    let appliedTwice = 0;
    for (const node of cluster.manifest.nodes) {
      const seen = await versionsOf(cluster.nodeClient(node.api_address), load.acked);
      missingByNode[node.id] = seen.missing;
      appliedTwice = Math.max(appliedTwice, seen.twice);
    }
    options.log(
      `read ${String(load.acked.length)} acknowledged keys on each node in ${String(Date.now() - checkedFrom)} ms`,
    );
    return {
      resumes,
      acked: load.acked.length,
      failed: load.failed + load.historyClients.failures.length,
      failures: load.allFailures(),
      appliedTwice,
      tokensAcked: load.tokensAcked,
      tokensCreated: (await cluster.tokenLeases()) - tokensBefore,
      missingByNode,
      elections: (await cluster.term()) - firstTerm,
      history: load.historyClients.history,
    };
  } finally {
    cluster?.close();
    dev?.kill();
    await dev?.allExited();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The report as lines for people: resume times, failures, duplicates, missing writes. */
export function describeFailover(report: FailoverReport): string[] {
  const sorted = report.resumes.map((r) => r.resumeMs).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  return [
    `resume after SIGKILL of the leader: median ${String(median)} ms, max ${String(sorted.at(-1) ?? 0)} ms (${sorted.join(', ')})`,
    `acknowledged writes: ${String(report.acked)}, failed requests: ${String(report.failed)} ${JSON.stringify(report.failures)}`,
    `writes applied twice (a key at version > 1): ${String(report.appliedTwice)}`,
    `acknowledged writes missing per node: ${JSON.stringify(report.missingByNode)}`,
    `leader elections seen (terms advanced): ${String(report.elections)} for ${String(report.resumes.length)} kills`,
    `token creations acknowledged: ${String(report.tokensAcked)}, tokens created: ${String(report.tokensCreated)} (created twice: ${String(report.tokensCreated - report.tokensAcked)})`,
  ];
}
