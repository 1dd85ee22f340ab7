// Goal: the driver runs the core by the Ready contract: it elects, commits proposals with
// group commit, answers followers with NotLeader, serves read barriers, stops for good when a
// write fails, and, with client sessions, applies a proposal retried after a leader change
// once and returns the original response. Method: three RaftNodes over MemoryDurableLog, the
// encoding InMemoryNetwork and a ManualClock; tests advance the clock and wait on conditions
// with a bound on rounds, never on fixed sleeps.
import { describe, expect, it } from 'vitest';
import {
  asNodeId,
  type ConfState,
  type Entry,
  type LogIndex,
  type SnapshotMetadata,
} from '../index.ts';
import { InMemoryNetwork, ManualClock, MemoryDurableLog, SeededRandom } from '../testing.ts';
import {
  decodeSessionResponse,
  encodeRegister,
  encodeSessionRequest,
  SessionStateMachine,
  SessionStatus,
  type SessionApplication,
} from './client_sessions.ts';
import type { SnapshotSource, SnapshotStream, StateMachine } from './ports.ts';
import { framedSnapshot, readFramedSnapshot } from './snapshot_stream.ts';
import { RaftNode } from './raft_node.ts';

class ListMachine implements StateMachine {
  applied: string[] = [];
  #index = 0 as LogIndex;
  appliedIndex(): LogIndex {
    return this.#index;
  }
  apply(entries: readonly Entry[]): Promise<readonly Uint8Array[]> {
    for (const e of entries) {
      if (e.data.byteLength > 0) {
        this.applied.push(new TextDecoder().decode(e.data));
      }
      this.#index = e.index;
    }
    return Promise.resolve(entries.map((e) => e.data));
  }
  snapshot(): Promise<SnapshotSource> {
    return Promise.resolve(
      framedSnapshot([new TextEncoder().encode(JSON.stringify(this.applied))]),
    );
  }
  async restore(metadata: SnapshotMetadata, chunks: SnapshotStream): Promise<void> {
    const [data = new Uint8Array(0)] = await readFramedSnapshot(chunks, 1);
    this.applied =
      data.byteLength === 0 ? [] : (JSON.parse(new TextDecoder().decode(data)) as string[]);
    this.#index = metadata.index;
  }
}

class Counter implements SessionApplication {
  count = 0;
  apply(): Promise<Uint8Array> {
    this.count++;
    return Promise.resolve(new TextEncoder().encode(`applied #${this.count}`));
  }
  snapshot(sessionTable: Uint8Array): Promise<SnapshotSource> {
    return Promise.resolve(
      framedSnapshot([sessionTable, new TextEncoder().encode(String(this.count))]),
    );
  }
  async restore(_metadata: SnapshotMetadata, chunks: SnapshotStream): Promise<Uint8Array> {
    const [sessionTable, count] = await readFramedSnapshot(chunks, 2);
    this.count = Number(new TextDecoder().decode(count) || '0');
    return sessionTable ?? new Uint8Array(0);
  }
}

const conf: ConfState = { voters: [1, 2, 3].map(asNodeId), learners: [] };

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Harness {
  nodes: RaftNode[];
  logs: MemoryDurableLog[];
  clock: ManualClock;
  network: InMemoryNetwork;
}

async function startCluster(machines: () => StateMachine): Promise<Harness> {
  const clock = new ManualClock();
  const network = new InMemoryNetwork();
  const random = new SeededRandom(5);
  const logs = [1, 2, 3].map(() => new MemoryDurableLog(conf));
  const nodes = await Promise.all(
    [1, 2, 3].map((id, i) =>
      RaftNode.start({
        id,
        log: logs[i] as MemoryDurableLog,
        stateMachine: machines(),
        transport: network.connect(asNodeId(id)),
        clock,
        randomInt: (n) => random.int(n),
        tickIntervalMs: 10,
      }),
    ),
  );
  return { nodes, logs, clock, network };
}

/** Advances time a tick at a time until the condition holds; fails after roundsMax. */
async function until(h: Harness, condition: () => boolean, roundsMax = 2000): Promise<void> {
  for (let i = 0; i < roundsMax; i++) {
    if (condition()) {
      return;
    }
    h.clock.advance(10);
    for (let j = 0; j < 5; j++) {
      await turn();
    }
  }
  throw new Error('Condition not reached within the round limit');
}

/** Ticks until a leader exists and every node knows one. */
async function untilEveryNodeKnowsTheLeader(h: Harness): Promise<void> {
  await until(
    h,
    () => leaderOf(h) !== undefined && h.nodes.every((n) => n.raw.status().softState.leader !== 0),
  );
}

function leaderOf(h: Harness): RaftNode | undefined {
  return h.nodes.find((n) => n.raw.status().softState.role === 'leader');
}

async function stopAll(h: Harness): Promise<void> {
  await Promise.all(h.nodes.map((n) => n.stop()));
}

describe('RaftNode', () => {
  it('RaftNode elects a leader and commits a proposal on every node', async () => {
    const machines: ListMachine[] = [];
    const h = await startCluster(() => {
      const m = new ListMachine();
      machines.push(m);
      return m;
    });
    await until(h, () => leaderOf(h) !== undefined);
    const outcome = await (leaderOf(h) as RaftNode).propose(new TextEncoder().encode('hello'));
    expect(outcome.ok).toBe(true);
    await until(h, () => machines.every((m) => m.applied.includes('hello')));
    expect(h.network.decodeFailures).toBe(0);
    await stopAll(h);
  });

  it('RaftNode.propose on a follower answers NotLeader with the leader hint', async () => {
    const h = await startCluster(() => new ListMachine());
    await untilEveryNodeKnowsTheLeader(h);
    const leader = leaderOf(h) as RaftNode;
    const follower = h.nodes.find((n) => n !== leader) as RaftNode;
    const outcome = await follower.propose(new Uint8Array([1]));
    expect(outcome).toMatchObject({
      ok: false,
      code: 'COFFER_RAFT_NOT_LEADER',
      leaderHint: leader.id,
    });
    await stopAll(h);
  });

  it('RaftNode groups many concurrent proposals into few synced batches', async () => {
    const h = await startCluster(() => new ListMachine());
    await until(h, () => leaderOf(h) !== undefined);
    const leader = leaderOf(h) as RaftNode;
    const index = h.nodes.indexOf(leader);
    const log = h.logs[index] as MemoryDurableLog;
    const before = log.syncCount;
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) => leader.propose(new TextEncoder().encode(`p${i}`))),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(log.syncCount - before).toBeLessThan(20);
    await stopAll(h);
  });

  it('RaftNode.readBarrier resolves once the node has applied the read index', async () => {
    const h = await startCluster(() => new ListMachine());
    await untilEveryNodeKnowsTheLeader(h);
    const leader = leaderOf(h) as RaftNode;
    await leader.propose(new TextEncoder().encode('x'));
    const follower = h.nodes.find((n) => n !== leader) as RaftNode;
    let indexed = 0;
    const barrier = follower.readBarrier({
      onIndex: () => {
        indexed += 1;
      },
    });
    let result: unknown;
    void barrier.then((r) => {
      result = r;
    });
    await until(h, () => result !== undefined);
    expect(result).toEqual({ ok: true });
    expect(indexed).toBe(1);
    expect(follower.raw.status().applied).toBeGreaterThanOrEqual(2);
    await stopAll(h);
  });

  it('RaftNode.readBarrier fails at once when the leader changes before it answered, not at the request timeout', async () => {
    const h = await startCluster(() => new ListMachine());
    await untilEveryNodeKnowsTheLeader(h);
    const leader = leaderOf(h) as RaftNode;
    await leader.propose(new TextEncoder().encode('x'));
    // Cut off, the leader can confirm no read: it steps down (CheckQuorum) within an election
    // timeout, and the pending round can never be answered after that.
    h.network.isolate(leader.id, [1, 2, 3]);
    const startedMs = h.clock.nowMs();
    let result: unknown;
    void leader.readBarrier().then((r) => {
      result = r;
    });
    await until(h, () => result !== undefined);
    expect(result).toMatchObject({ ok: false, code: 'COFFER_RAFT_NOT_LEADER' });
    expect(leader.raw.status().softState.role).not.toBe('leader');
    // Regression: it waited for the request timeout (10 s) while every read sharing the round
    // waited with it.
    expect(h.clock.nowMs() - startedMs).toBeLessThan(5_000);
    h.network.heal();
    await stopAll(h);
  });

  it('RaftNode.readBarrier asks again when its ReadIndex request is lost, and is answered within a retry', async () => {
    const h = await startCluster(() => new ListMachine());
    await untilEveryNodeKnowsTheLeader(h);
    const leader = leaderOf(h) as RaftNode;
    await leader.propose(new TextEncoder().encode('x'));
    const follower = h.nodes.find((n) => n !== leader) as RaftNode;
    // The follower's request to the leader is dropped (its stream was reconnecting); nothing
    // else changes, so no leader change ends the round.
    h.network.cut(follower.id, leader.id);
    const startedMs = h.clock.nowMs();
    let result: unknown;
    void follower.readBarrier().then((r) => {
      result = r;
    });
    for (let i = 0; i < 5; i++) {
      await turn();
    }
    h.network.heal();
    await until(h, () => result !== undefined);
    expect(result).toEqual({ ok: true });
    // One retry (500 ms), not the 10 s request timeout.
    expect(h.clock.nowMs() - startedMs).toBeLessThan(1_000);
    expect(h.clock.nowMs() - startedMs).toBeGreaterThanOrEqual(500);
    await stopAll(h);
  });

  it('RaftNode hands a lost peer from its transport to Raft: followers of a dead leader elect another sooner', async () => {
    const h = await startCluster(() => new ListMachine());
    await untilEveryNodeKnowsTheLeader(h);
    const leader = leaderOf(h) as RaftNode;
    const followers = h.nodes.filter((n) => n !== leader);
    h.network.isolate(
      leader.id,
      h.nodes.map((n) => n.id),
    );
    const crashedAtMs = h.clock.nowMs();
    for (const follower of followers) {
      h.network.reportLost(follower.id, leader.id);
    }
    await until(h, () => followers.some((n) => n.raw.status().softState.role === 'leader'));
    // Without the report a follower waits out at least one whole election timeout: 10 ticks of
    // 10 ms here.
    expect(h.clock.nowMs() - crashedAtMs).toBeLessThan(100);
    await stopAll(h);
  });

  it('RaftNode stops for good and answers COFFER_RAFT_STOPPED after a failed write', async () => {
    const h = await startCluster(() => new ListMachine());
    await until(h, () => leaderOf(h) !== undefined);
    const leader = leaderOf(h) as RaftNode;
    (h.logs[h.nodes.indexOf(leader)] as MemoryDurableLog).failNextWrite(new Error('disk on fire'));
    const outcome = await leader.propose(new Uint8Array([1]));
    expect(outcome).toMatchObject({ ok: false, code: 'COFFER_RAFT_STOPPED' });
    expect(leader.failure()?.code).toBe('COFFER_RAFT_STOPPED');
    const again = await leader.propose(new Uint8Array([2]));
    expect(again).toMatchObject({ ok: false, code: 'COFFER_RAFT_STOPPED' });
    await stopAll(h);
  });

  it('RaftNode with sessions applies a proposal retried after a leader change once', async () => {
    const apps: Counter[] = [];
    const h = await startCluster(() => {
      const app = new Counter();
      apps.push(app);
      return new SessionStateMachine(app, { sessionTtlMs: 60_000, responsesPerClientMax: 64 });
    });
    await untilEveryNodeKnowsTheLeader(h);
    const first = leaderOf(h) as RaftNode;
    const registered = await first.propose(encodeRegister(1000));
    expect(registered.ok).toBe(true);
    const idBytes = decodeSessionResponse(
      registered.ok ? registered.result : new Uint8Array(),
    ).body;
    const clientId = new DataView(idBytes.buffer, idBytes.byteOffset).getFloat64(0);
    const request = { clientId, sequence: 1, ackedBelow: 0, payload: new Uint8Array([1]) };
    const original = await first.propose(encodeSessionRequest(request, 1001));
    expect(original.ok).toBe(true);
    // The client never saw that answer; leadership moves; the client retries elsewhere.
    const next = h.nodes.find((n) => n !== first) as RaftNode;
    expect(first.transferLeadership(next.id).ok).toBe(true);
    await until(h, () => leaderOf(h) === next);
    const retried = await next.propose(encodeSessionRequest(request, 1002));
    expect(retried.ok && original.ok).toBe(true);
    if (retried.ok && original.ok) {
      expect(decodeSessionResponse(retried.result).status).toBe(SessionStatus.ok);
      expect(retried.result).toEqual(original.result);
    }
    await until(h, () => apps.every((a) => a.count === 1));
    expect(apps.map((a) => a.count)).toEqual([1, 1, 1]);
    await stopAll(h);
  });
});
