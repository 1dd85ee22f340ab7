/**
 * The failover soak (issue 9's failover proof, run by hand, bounded): a three-node dev cluster
 * on loopback, writers putting unique keys and creating tokens through a client that knows
 * every node, and the leader SIGKILLed `--kills` times. For each kill it prints the time from
 * the kill to the first acknowledged write after it; at the end, the failed requests and the
 * writes applied more than once (a key at version 2).
 *
 *   npm run soak:failover -- --kills 10 --interval-ms 3000 --writers 8
 *
 * Loopback only; every wait has a deadline; the cluster and its directory are removed at the
 * end, also on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { childExecArgv, DevCluster } from '@coffer/api';
import { CofferClient } from '@coffer/client';

import { isLoopbackHost } from './loopback.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '10' },
    'interval-ms': { type: 'string', default: '3000' },
    writers: { type: 'string', default: '8' },
  },
});
const kills = Number(values.kills);
const intervalMs = Number(values['interval-ms']);
const writers = Number(values.writers);
const deadlineMs = 60_000;

const cli = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));
const command = { file: process.execPath, args: [...childExecArgv(process.execArgv), cli] };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(what: string, condition: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (await condition().catch(() => false)) {
      return;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const dir = await mkdtemp(join(tmpdir(), 'coffer-soak-'));
const restarted: ChildProcess[] = [];
let cluster: DevCluster | undefined;
try {
  cluster = await DevCluster.start({ dir: join(dir, 'cluster'), nodeCount: 3, command });
  const manifest = cluster.manifest;
  for (const node of manifest.nodes) {
    const host = node.api_address.slice(0, node.api_address.lastIndexOf(':'));
    if (!isLoopbackHost(host)) {
      throw new Error(`refusing a non-loopback address ${node.api_address}`);
    }
  }
  const caCert = await readFile(manifest.ca_cert);
  const rootToken = (await readFile(manifest.root_token_file, 'utf8')).trim();
  const share = (await readFile(manifest.unseal_share_file, 'utf8')).trim();
  const addresses = manifest.nodes.map((n) => n.api_address);
  const client = new CofferClient({ addresses, caCert }).withToken(rootToken);
  const nodeClient = (address: string): CofferClient => new CofferClient({ address, caCert });
  const pids = new Map(manifest.nodes.map((n) => [n.id, n.pid]));

  let stop = false;
  let failed = 0;
  const acked: string[] = [];
  /** When each acknowledged request was sent and answered. */
  const acks: { readonly sent: number; readonly answered: number }[] = [];
  let tokensAcked = 0;
  const failures = new Map<string, number>();
  const writer = async (w: number): Promise<void> => {
    for (let n = 0; !stop; n++) {
      const key = `soak/w${w}-${n}`;
      const sent = Date.now();
      try {
        if (w === 0 && n % 4 === 0) {
          await client.auth.tokenCreate({ policies: ['default'], ttl: '1h' });
          tokensAcked += 1;
        } else {
          await client.kv.put({ mount: 'secret', path: key, data: { n } });
          acked.push(key);
        }
        acks.push({ sent, answered: Date.now() });
      } catch (error) {
        failed += 1;
        const code = (error as { code?: string }).code ?? 'unknown';
        failures.set(code, (failures.get(code) ?? 0) + 1);
      }
    }
  };
  const termOf = async (): Promise<number> =>
    Number((await client.logical.read('sys/leader')).data['raft_term']);
  // NB: every token with a TTL has a lease under its creation path, so leases count tokens.
  const tokenLeases = async (): Promise<number> =>
    ((await client.logical.list('sys/leases/lookup/auth/token/create/')).data['keys'] as unknown[])
      .length;
  const tokensBefore = await tokenLeases();
  const firstTerm = await termOf();
  const running = Array.from({ length: writers }, (_, w) => writer(w));

  const resumes: { kill: number; leader: number; resumeMs: number }[] = [];
  for (let k = 1; k <= kills; k++) {
    await sleep(intervalMs);
    const leader = (await client.logical.read('sys/leader')).data;
    const leaderId = Number(leader['leader_id']);
    const pid = pids.get(leaderId);
    if (pid === undefined) {
      throw new Error('no leader to kill');
    }
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    // NB: a request sent after the kill: one in flight before it may be answered by the old
    // leader's commit and say nothing about the new one.
    const firstAfter = (): number | undefined => acks.find((a) => a.sent > killedAt)?.answered;
    await waitFor(`a write after kill ${k}`, () => Promise.resolve(firstAfter() !== undefined));
    const resumeMs = (firstAfter() ?? killedAt) - killedAt;
    resumes.push({ kill: k, leader: leaderId, resumeMs });
    console.log(`kill ${k}: node ${leaderId} SIGKILLed; writes resumed after ${resumeMs} ms`);
    // The killed node restarts sealed, is unsealed and catches up.
    const node = manifest.nodes.find((n) => n.id === leaderId);
    if (node === undefined) {
      throw new Error('no such node');
    }
    const child = spawn(command.file, [...command.args, 'server', '--config', node.config], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    restarted.push(child);
    child.stdout.resume();
    pids.set(leaderId, child.pid ?? 0);
    await waitFor(`node ${leaderId} to listen`, async () => {
      await nodeClient(node.api_address).sys.sealStatus();
      return true;
    });
    await nodeClient(node.api_address).sys.unseal({ key: share });
  }
  stop = true;
  await Promise.all(running);
  // NB: each election is a new term: more terms than kills means elections nobody caused.
  const elections = (await termOf()) - firstTerm;
  const tokensCreated = (await tokenLeases()) - tokensBefore;

  let duplicates = 0;
  for (const key of acked) {
    const read = await client.kv.get({ mount: 'secret', path: key });
    const version = (read.data['metadata'] as { version?: number } | undefined)?.version;
    if (version !== 1) {
      duplicates += 1;
    }
  }
  const sorted = resumes.map((r) => r.resumeMs).sort((a, b) => a - b);
  console.log('');
  console.log(`kills: ${kills}, writers: ${writers}, interval: ${intervalMs} ms`);
  console.log(
    `resume after SIGKILL of the leader: median ${sorted[Math.floor(sorted.length / 2)] ?? 0} ms, max ${sorted.at(-1) ?? 0} ms`,
  );
  console.log(
    `acknowledged writes: ${acked.length}, failed requests: ${failed} ${JSON.stringify(Object.fromEntries(failures))}`,
  );
  console.log(`writes applied twice (a key at version > 1): ${duplicates}`);
  console.log(`leader elections seen (terms advanced): ${elections} for ${kills} kills`);
  console.log(
    `token creations acknowledged: ${tokensAcked}, tokens created: ${tokensCreated} (created twice: ${tokensCreated - tokensAcked})`,
  );
  client.close();
} finally {
  for (const child of restarted) {
    child.kill('SIGKILL');
  }
  cluster?.kill();
  await cluster?.allExited();
  await rm(dir, { recursive: true, force: true });
}
