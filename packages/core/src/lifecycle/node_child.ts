/**
 * The child process of node_child.test.ts: a whole CofferNode (stores, barrier, Raft, PKCS#11
 * seal) on a real SoftHSM2 token in its own process, so that a restart is a process restart.
 *
 * Usage (forked through the tsx loader, SOFTHSM2_CONF in the environment):
 *   node_child.ts init <dir>   open a fresh single-voter node, init with an HSM key generated
 *                              in the token, write a value, close
 *   node_child.ts run <dir>    open the node; it unseals by itself through the HSM (retrying
 *                              with a short real backoff while the token is away); read the
 *                              value back, close
 *
 * `<dir>/seal.json` holds the Pkcs11SealConfig. Recovery shares go to `<dir>/recovery.shares`
 * (mode 0600), standing in for the people who hold them. stdout carries one JSON object per
 * line: the node's log events, status changes and the outcome; never a secret (the parent
 * scans for that). Real time is fine here: the parent waits on lines with a deadline.
 */
import { randomInt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { asNodeId } from '@coffer/raft';
import { systemClock, type Transport } from '@coffer/raft/node';

import type { Pkcs11SealConfig } from '../seal/pkcs11_config.ts';
import type { SealLogger } from '../seal/seal_provider.ts';
import { CofferNode, type CofferNodeOptions } from './coffer_node.ts';

const path = 'secret/data/child';
const value = 'value-written-before-the-restart';
const deadlineMs = 20_000;

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const logger: SealLogger = {
  info: (event, fields) => {
    print({ event, ...fields });
  },
  warn: (event, fields) => {
    print({ event, ...fields });
  },
};

/** A single voter sends nothing; its transport only needs to exist. */
const loneTransport = (): Transport => ({
  send: () => undefined,
  listen: () => undefined,
  close: () => Promise.resolve(),
});

function options(dir: string): CofferNodeOptions {
  const config = JSON.parse(readFileSync(join(dir, 'seal.json'), 'utf8')) as Pkcs11SealConfig;
  return {
    dataDir: join(dir, 'node'),
    id: 1,
    confState: { voters: [asNodeId(1)], learners: [] },
    transport: loneTransport,
    clock: systemClock,
    randomInt: (n) => randomInt(n),
    wallClockMs: () => Date.now(),
    tickIntervalMs: 10,
    raft: { electionTimeoutTicks: 10, heartbeatIntervalTicks: 2 },
    seal: { type: 'pkcs11', config, backoff: { delayBaseMs: 50, delayMaxMs: 200 } },
    logger,
  };
}

/** Polls `condition` every 10 ms until it holds; throws after the deadline. */
async function until(what: string, condition: () => boolean): Promise<void> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > deadlineMs) {
      throw new Error(`Timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function isLeader(node: CofferNode): boolean {
  return node.raftNode?.raw.status().softState.role === 'leader';
}

async function init(dir: string): Promise<void> {
  const node = await CofferNode.open(options(dir));
  await until('leadership', () => isLeader(node));
  const result = await node.init({ generateHsmKey: true, shares: 3, threshold: 2 });
  writeFileSync(join(dir, 'recovery.shares'), `${result.recoveryShares.join('\n')}\n`, {
    mode: 0o600,
  });
  await node.secureStore.put(path, new TextEncoder().encode(value));
  print({ event: 'initialized', status: node.status() });
  await node.close();
}

async function run(dir: string): Promise<void> {
  const node = await CofferNode.open(options(dir));
  print({ event: 'opened', status: node.status() });
  await until('the auto-unseal', () => node.status().raftRunning);
  await until('leadership', () => isLeader(node));
  const read = await node.secureStore.get(path);
  print({ event: 'unsealed', verified: new TextDecoder().decode(read) === value });
  await node.close();
}

async function main(): Promise<void> {
  const [command, dir] = process.argv.slice(2);
  if (dir === undefined || (command !== 'init' && command !== 'run')) {
    throw new Error('usage: node_child.ts init|run <dir>');
  }
  await (command === 'init' ? init(dir) : run(dir));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    const code = (error as { code?: unknown }).code;
    print({ event: 'failed', code: typeof code === 'string' ? code : 'unknown' });
    process.exit(1);
  },
);
