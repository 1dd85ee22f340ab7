/**
 * Goal: SessionClient registers lazily, resends a write whose outcome is unknown with the SAME
 * sequence while this node leads (so it applies once), never resends after a refusal that
 * proposed nothing or once this node no longer leads, and after an expired session sends the
 * write once more in a new session.
 * Method: a scripted stand-in for RaftNode that applies each proposal at the next index to a
 * real LevelStateStore (temporary directory) and then answers it, or loses the answer
 * (COFFER_RAFT_TIMEOUT, COFFER_RAFT_PROPOSAL_DROPPED), or refuses it unproposed
 * (COFFER_RAFT_NOT_LEADER). Time is a number.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { asIndex, asTerm, RaftErrorCode } from '@coffer/raft';
import type { RaftNode } from '@coffer/raft/node';
import {
  decodeEntryData,
  encodeApplyResult,
  LevelStateStore,
  type LevelStateStoreOptions,
  type StateCommand,
} from '@coffer/storage';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { SessionClient, sessionWritesInFlightMax } from './session_client.ts';

type Step = 'answer' | 'loseAnswer' | 'dropAnswer' | 'notLeader';

/** Applies proposals to a real store, one entry each, answering as the script says. */
class ScriptedNode {
  readonly proposed: Uint8Array[] = [];
  readonly script: Step[] = [];
  role = 'leader';
  /** When set, proposals wait for it before they apply (writes pile up in flight). */
  hold: Promise<void> | undefined;
  pending = 0;
  pendingMax = 0;
  readonly raw = { status: () => ({ softState: { role: this.role } }) };
  readonly #store: LevelStateStore;
  #lastIndex = 0;

  constructor(store: LevelStateStore) {
    this.#store = store;
  }

  async propose(data: Uint8Array): Promise<unknown> {
    const step = this.script.shift() ?? 'answer';
    if (step === 'notLeader') {
      return { ok: false, code: RaftErrorCode.notLeader, message: 'Retry: not the leader' };
    }
    this.pending++;
    this.pendingMax = Math.max(this.pendingMax, this.pending);
    await this.hold;
    this.pending--;
    const index = ++this.#lastIndex;
    this.proposed.push(data);
    const [result] = await this.#store.apply([{ index: asIndex(index), term: asTerm(1), data }]);
    if (step === 'loseAnswer') {
      return { ok: false, code: RaftErrorCode.timeout, message: 'Retry: no answer' };
    }
    if (step === 'dropAnswer') {
      // As after a leader change, though the entry did commit: the outcome is unknown.
      return { ok: false, code: RaftErrorCode.proposalDropped, message: 'Retry: replaced' };
    }
    return { ok: true, index, result: encodeApplyResult(result ?? { ok: true, outcome: 'empty' }) };
  }

  /** The (kind, client, sequence) of every proposal. */
  requests(): string[] {
    return this.proposed.map((data) => {
      const decoded = decodeEntryData(data);
      if (!decoded.ok || decoded.kind === 'command') {
        return 'other';
      }
      return decoded.kind === 'register'
        ? 'register'
        : `${decoded.request.clientId}/${decoded.request.sequence}`;
    });
  }
}

let root: string;
let store: LevelStateStore | undefined;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-session-client-'));
});

afterEach(async () => {
  await store?.close();
  store = undefined;
  await rm(root, { recursive: true, force: true });
});

async function setup(
  options?: LevelStateStoreOptions,
): Promise<{ node: ScriptedNode; client: SessionClient; clock: { nowMs: number } }> {
  store = await LevelStateStore.open(join(root, 'state'), options);
  const node = new ScriptedNode(store);
  const clock = { nowMs: 1000 };
  const client = new SessionClient({
    node: node as unknown as RaftNode,
    nowMs: () => clock.nowMs,
  });
  return { node, client, clock };
}

const createOnce: StateCommand = {
  kind: 'transaction',
  conditions: [{ kind: 'absent', key: 'kv/a' }],
  operations: [{ kind: 'put', key: 'kv/a', value: Uint8Array.of(1) }],
};

describe('SessionClient', { timeout: 30_000 }, () => {
  it('SessionClient.propose resends a write with a lost answer under the same sequence', async () => {
    const { node, client } = await setup();
    node.script.push('answer', 'loseAnswer', 'dropAnswer');
    const result = await client.propose(createOnce, 'create "kv/a"');
    // Applied once (at index 2); both resends were answered with that original result.
    expect(result).toEqual({ ok: true, outcome: 'applied' });
    expect(node.requests()).toEqual(['register', '1/0', '1/0', '1/0']);
    expect(store?.get('kv/a')?.version).toBe(2);
    const next = await client.propose(createOnce, 'create "kv/a"');
    expect(next).toMatchObject({ ok: false, code: 'COFFER_STORAGE_CAS_FAILED' });
    expect(node.requests().at(-1)).toBe('1/1');
  });

  it('SessionClient.propose does not resend after a refusal that proposed nothing', async () => {
    const { node, client } = await setup();
    await client.propose(createOnce, 'create "kv/a"');
    node.script.push('notLeader');
    await expect(client.propose(createOnce, 'create "kv/a"')).rejects.toMatchObject({
      code: CoreErrorCode.notActive,
    });
    expect(node.requests()).toEqual(['register', '1/0']);
  });

  it('SessionClient.propose does not resend once this node no longer leads', async () => {
    const { node, client } = await setup();
    await client.propose({ kind: 'put', key: 'kv/b', value: Uint8Array.of(2) }, 'write');
    node.script.push('loseAnswer');
    node.role = 'follower';
    await expect(client.propose(createOnce, 'create "kv/a"')).rejects.toMatchObject({
      code: CoreErrorCode.notActive,
    });
    expect(node.requests()).toEqual(['register', '1/0', '1/1']);
  });

  it('SessionClient.propose gives up after three sends whose outcome stays unknown', async () => {
    const { node, client } = await setup();
    await client.propose({ kind: 'put', key: 'kv/b', value: Uint8Array.of(2) }, 'write');
    node.script.push('loseAnswer', 'loseAnswer', 'loseAnswer');
    await expect(client.propose(createOnce, 'create "kv/a"')).rejects.toMatchObject({
      code: CoreErrorCode.notActive,
    });
    expect(node.requests()).toEqual(['register', '1/0', '1/1', '1/1', '1/1']);
    expect(store?.get('kv/a')?.version).toBe(3);
  });

  it('SessionClient.propose queues writes beyond its in-flight window instead of refusing them', async () => {
    const { node, client } = await setup();
    await client.propose({ kind: 'put', key: 'kv/first', value: Uint8Array.of(1) }, 'write');
    let release = (): void => undefined;
    node.hold = new Promise((resolve) => (release = resolve));
    const writes = Array.from({ length: 200 }, (_, i) =>
      client.propose({ kind: 'put', key: `kv/${i}`, value: Uint8Array.of(i % 256) }, 'write'),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(node.pending).toBe(sessionWritesInFlightMax);
    release();
    const results = await Promise.all(writes);
    // Regression: with all 200 in flight, those past the state's 64-response window were refused.
    expect(results.every((r) => r.ok && r.outcome === 'applied')).toBe(true);
    expect(node.pendingMax).toBe(sessionWritesInFlightMax);
  });

  it('SessionClient.propose registers again and resends once after its session expired', async () => {
    const { node, client, clock } = await setup({ sessionLimits: { sessionTtlMs: 100 } });
    await client.propose({ kind: 'put', key: 'kv/b', value: Uint8Array.of(2) }, 'write');
    clock.nowMs += 1000;
    const result = await client.propose(createOnce, 'create "kv/a"');
    expect(result).toEqual({ ok: true, outcome: 'applied' });
    // Client 1 expired (not applied), so the write went again in client 4's session.
    expect(node.requests()).toEqual(['register', '1/0', '1/1', 'register', '4/0']);
    expect(store?.get('kv/a')?.version).toBe(5);
  });
});
