/**
 * Goal: a standby's Forwarder gets every request served by the active node: it waits for a
 * pushed leader when none is known, resends with the same request id to the next leader when
 * the first one answers NOT_ACTIVE or NOT_READY or is down, and answers NOT_ACTIVE ("retry")
 * once the request's deadline passes.
 *
 * Method: first against a scripted target on a fake clock and timer (every wait and backoff is
 * a timer the test moves past), then end to end: three real ClusterServers with the Forward
 * service on loopback mutual TLS (cluster_tls_fixture.ts), a real ForwardClient, and a leader
 * "down" by closing its server. Every wait is a condition with a deadline; nothing sleeps.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { CoreRequest, CoreResponse } from '@coffer/core';

import { waitUntil } from '../testing/test_node.ts';
import { ClusterServer } from './cluster_server.ts';
import { createClusterTlsFixture, type ClusterTlsFixture } from './cluster_tls_fixture.ts';
import { ForwardClient, ForwardError } from './forward_client.ts';
import {
  forwardServiceDefinition,
  ForwardService,
  LeaderChanges,
  type LeaderChange,
} from './forward_service.ts';
import { Forwarder, type ForwarderClock, type ForwardTarget } from './forwarder.ts';
import type { ClusterTimer } from './raft_peer_stream.ts';

const token = 'hvs.forwarder-token-do-not-print';

/** A clock and timer that move only when the test says so. */
class FakeTime implements ClusterTimer, ForwarderClock {
  #nowMs = 0;
  readonly #timers = new Set<{ readonly atMs: number; readonly callback: () => void }>();

  nowMs(): number {
    return this.#nowMs;
  }

  setTimer(delayMs: number, callback: () => void): { cancel(): void } {
    const timer = { atMs: this.#nowMs + delayMs, callback };
    this.#timers.add(timer);
    return {
      cancel: () => {
        this.#timers.delete(timer);
      },
    };
  }

  get pending(): number {
    return this.#timers.size;
  }

  /** Moves the clock by `ms`, running each timer that falls due, in order. */
  advance(ms: number): void {
    const targetMs = this.#nowMs + ms;
    for (;;) {
      const due = [...this.#timers]
        .filter((timer) => timer.atMs <= targetMs)
        .sort((a, b) => a.atMs - b.atMs)[0];
      if (due === undefined) {
        break;
      }
      this.#timers.delete(due);
      this.#nowMs = due.atMs;
      due.callback();
    }
    this.#nowMs = targetMs;
  }
}

interface SentTry {
  readonly leaderId: number;
  readonly request: CoreRequest;
  readonly deadlineMs: number;
  readonly answer: (response: CoreResponse | ForwardError) => void;
}

/** A target whose tries wait until the test answers them. */
class ScriptedTarget implements ForwardTarget {
  readonly tries: SentTry[] = [];

  forward(
    leaderId: number,
    request: CoreRequest,
    options: { readonly deadlineMs: number },
  ): Promise<CoreResponse> {
    return new Promise((resolve, reject) => {
      this.tries.push({
        leaderId,
        request,
        deadlineMs: options.deadlineMs,
        answer: (response) => {
          if (response instanceof ForwardError) {
            reject(response);
          } else {
            resolve(response);
          }
        },
      });
    });
  }
}

function leader(leaderId: number, term: number): Omit<LeaderChange, 'index'> {
  return { term, leaderId, apiAddress: '', clusterAddress: '' };
}

function served(requestId: string, node: number): CoreResponse {
  return { ok: true, requestId, data: { node } };
}

function refusal(requestId: string, code: string): CoreResponse {
  return { ok: false, requestId, code, message: 'not here' } as CoreResponse;
}

function unreachable(peerId: number): ForwardError {
  return new ForwardError('unavailable', `node ${peerId} is down`, { peerId });
}

function setup(options: { readonly selfId?: number; readonly leaderlessAnswerMs?: number } = {}) {
  const time = new FakeTime();
  const target = new ScriptedTarget();
  const leaders = new LeaderChanges();
  const local: CoreRequest[] = [];
  const forwarder = new Forwarder({
    selfId: options.selfId ?? 1,
    leaders,
    client: target,
    local: (request) => {
      local.push(request);
      return Promise.resolve(served(request.requestId ?? '', 1));
    },
    deadlineMs: 5_000,
    retryBackoff: { initialMs: 100, maxMs: 400 },
    clock: time,
    timer: time,
    // The top of each jitter range: the backoff is exactly 100, 200, 400, 400, ... ms.
    randomInt: (maxExclusive) => maxExclusive - 1,
    newRequestId: () => 'made-here',
    ...(options.leaderlessAnswerMs === undefined
      ? {}
      : { leaderlessAnswerMs: options.leaderlessAnswerMs }),
  });
  return { time, target, leaders, local, forwarder };
}

const readRequest: CoreRequest = {
  operation: 'read',
  path: 'secret/data/app',
  token,
  clientAddress: '203.0.113.9',
  requestId: 'client-7',
};

describe('Forwarder.handle', () => {
  it('forwards to the current leader with the request as it came', async () => {
    const { target, leaders, forwarder } = setup();
    leaders.publish(leader(2, 1));
    const answer = forwarder.handle(readRequest);
    await waitUntil('the try is sent', () => target.tries.length === 1);
    expect(target.tries[0]).toMatchObject({ leaderId: 2, request: readRequest, deadlineMs: 5_000 });
    target.tries[0]?.answer(served('client-7', 2));
    expect(await answer).toEqual(served('client-7', 2));
  });

  it('waits for a pushed leader when none is known, with an id made before the first try', async () => {
    const { time, target, leaders, forwarder } = setup();
    const withoutId: CoreRequest = { operation: 'read', path: 'secret/data/app', token };
    const answer = forwarder.handle(withoutId);
    await waitUntil('the forwarder waits', () => time.pending === 1);
    leaders.publish(leader(0, 1));
    time.advance(1_000);
    expect(target.tries).toEqual([]);
    leaders.publish(leader(3, 1));
    await waitUntil('the try is sent', () => target.tries.length === 1);
    expect(target.tries[0]).toMatchObject({ leaderId: 3, deadlineMs: 4_000 });
    expect(target.tries[0]?.request.requestId).toBe('made-here');
    target.tries[0]?.answer(served('made-here', 3));
    expect(await answer).toEqual(served('made-here', 3));
  });

  it('resends with the same request id to the next leader after NOT_ACTIVE or an unreachable one', async () => {
    const { time, target, leaders, forwarder } = setup();
    leaders.publish(leader(2, 1));
    const answer = forwarder.handle(readRequest);
    await waitUntil('the first try', () => target.tries.length === 1);
    target.tries[0]?.answer(refusal('client-7', 'COFFER_CORE_NOT_ACTIVE'));
    await waitUntil('the forwarder waits', () => time.pending === 2);
    leaders.publish(leader(3, 2));
    await waitUntil('the second try', () => target.tries.length === 2);
    target.tries[1]?.answer(unreachable(3));
    await waitUntil('the forwarder waits again', () => time.pending === 2);
    leaders.publish(leader(2, 3));
    await waitUntil('the third try', () => target.tries.length === 3);
    target.tries[2]?.answer(served('client-7', 2));
    expect(await answer).toEqual(served('client-7', 2));
    expect(target.tries.map((sent) => [sent.leaderId, sent.request.requestId])).toEqual([
      [2, 'client-7'],
      [3, 'client-7'],
      [2, 'client-7'],
    ]);
    expect(forwarder.stats()).toMatchObject({ tries: 3, triesFailed: 2, deadlinesPassed: 0 });
  });

  it('tries the same leader again after the backoff when it answers NOT_READY', async () => {
    const { time, target, leaders, forwarder } = setup();
    leaders.publish(leader(2, 1));
    const answer = forwarder.handle(readRequest);
    await waitUntil('the first try', () => target.tries.length === 1);
    target.tries[0]?.answer(refusal('client-7', 'COFFER_CORE_NOT_READY'));
    await waitUntil('the forwarder waits', () => time.pending === 2);
    time.advance(99);
    expect(target.tries).toHaveLength(1);
    time.advance(1);
    await waitUntil('the second try', () => target.tries.length === 2);
    expect(target.tries[1]).toMatchObject({ leaderId: 2, deadlineMs: 4_900 });
    target.tries[1]?.answer(served('client-7', 2));
    expect(await answer).toEqual(served('client-7', 2));
  });

  it('answers NOT_ACTIVE, saying to retry, once the deadline passes', async () => {
    const { time, target, leaders, forwarder } = setup();
    const waiting = forwarder.handle(readRequest);
    await waitUntil('the forwarder waits', () => time.pending === 1);
    time.advance(5_000);
    const answer = await waiting;
    expect(answer).toMatchObject({
      ok: false,
      requestId: 'client-7',
      code: 'COFFER_CORE_NOT_ACTIVE',
    });
    expect(answer.ok ? '' : answer.message).toMatch(/^Retry/);
    expect(JSON.stringify(answer)).not.toContain(token);

    // A leader that keeps answering NOT_ACTIVE is tried until the deadline, then given up on.
    leaders.publish(leader(2, 1));
    let done = false;
    const retried = forwarder.handle(readRequest).finally(() => {
      done = true;
    });
    let answered = 0;
    for (;;) {
      await waitUntil('a try or the answer', () => target.tries.length > answered || done);
      if (target.tries.length === answered) {
        break;
      }
      target.tries[answered]?.answer(refusal('client-7', 'COFFER_CORE_NOT_ACTIVE'));
      answered += 1;
      await waitUntil('the forwarder waits', () => time.pending === 2);
      time.advance(400);
    }
    expect(await retried).toMatchObject({ ok: false, code: 'COFFER_CORE_NOT_ACTIVE' });
    expect(time.nowMs()).toBeGreaterThanOrEqual(10_000);
    expect(answered).toBeGreaterThan(5);
    expect(forwarder.stats().deadlinesPassed).toBe(2);
    expect(time.pending).toBe(0);
  });

  it('answers NO_LEADER, saying to retry on another node, once no leader was known for the bound', async () => {
    const { time, target, leaders, forwarder } = setup({ leaderlessAnswerMs: 4_000 });
    // Leaderless since the start: the request waits what is left of the bound, not its deadline.
    time.advance(1_000);
    const waiting = forwarder.handle(readRequest);
    await waitUntil('the forwarder waits', () => time.pending === 1);
    time.advance(2_999);
    expect(time.pending).toBe(1);
    time.advance(1);
    const answer = await waiting;
    expect(answer).toMatchObject({
      ok: false,
      requestId: 'client-7',
      code: 'COFFER_CORE_NO_LEADER',
    });
    expect(answer.ok ? '' : answer.message).toMatch(/^Retry the request on another node/);
    // Still leaderless: the next request is answered at once.
    expect(await forwarder.handle(readRequest)).toMatchObject({ code: 'COFFER_CORE_NO_LEADER' });
    expect(forwarder.stats().leaderless).toBe(2);

    // A leader that goes while a request waits on it: the bound counts from when it went.
    leaders.publish(leader(2, 1));
    const retried = forwarder.handle(readRequest);
    await waitUntil('the try', () => target.tries.length === 1);
    target.tries[0]?.answer(unreachable(2));
    await waitUntil('the backoff', () => time.pending === 2);
    time.advance(50);
    leaders.publish(leader(0, 2));
    time.advance(3_999);
    expect(target.tries).toHaveLength(1);
    time.advance(1);
    expect(await retried).toMatchObject({ code: 'COFFER_CORE_NO_LEADER' });
    expect(time.pending).toBe(0);

    // An election that ends within the bound answers nothing but the request.
    leaders.publish(leader(2, 2));
    leaders.publish(leader(0, 3));
    time.advance(100);
    const elected = forwarder.handle(readRequest);
    await waitUntil('the forwarder waits', () => time.pending === 1);
    time.advance(1_000);
    leaders.publish(leader(3, 3));
    await waitUntil('the try', () => target.tries.length === 2);
    target.tries[1]?.answer(served('client-7', 3));
    expect(await elected).toEqual(served('client-7', 3));
  });

  it('serves the request itself when this node is the leader', async () => {
    const { target, leaders, local, forwarder } = setup({ selfId: 1 });
    leaders.publish(leader(1, 1));
    expect(await forwarder.handle(readRequest)).toEqual(served('client-7', 1));
    expect(local).toEqual([readRequest]);
    expect(target.tries).toEqual([]);
  });

  it('gives up at once, saying to retry elsewhere, when the leader refuses the forward', async () => {
    const { target, leaders, forwarder } = setup();
    leaders.publish(leader(2, 1));
    const answer = forwarder.handle(readRequest);
    await waitUntil('the try', () => target.tries.length === 1);
    target.tries[0]?.answer(new ForwardError('refused', 'refused', { peerId: 2 }));
    expect(await answer).toMatchObject({ ok: false, code: 'COFFER_CORE_NOT_ACTIVE' });
    expect(forwarder.stats().forwardsRefused).toBe(1);
  });
});

describe('Forwarder over mutual TLS', () => {
  let fixture: ClusterTlsFixture;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    fixture = await createClusterTlsFixture({ nodeIds: [1, 2, 3] });
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup();
    }
  });

  async function startNode(
    nodeId: number,
    answer: (request: CoreRequest) => CoreResponse,
  ): Promise<{ server: ClusterServer; handled: CoreRequest[] }> {
    const server = new ClusterServer({
      clusterTls: await fixture.tlsFor(nodeId),
      host: '127.0.0.1',
      port: 0,
    });
    const handled: CoreRequest[] = [];
    const service = new ForwardService({
      leaders: new LeaderChanges(),
      handle: (request) => {
        handled.push(request);
        return Promise.resolve(answer(request));
      },
    });
    server.addService(forwardServiceDefinition, service.implementation());
    await server.start();
    cleanups.push(() => server.close());
    return { server, handled };
  }

  async function standby(addresses: ReadonlyMap<number, string>) {
    const time = new FakeTime();
    const leaders = new LeaderChanges();
    const client = new ForwardClient({
      clusterTls: await fixture.tlsFor(1),
      resolve: (id) => addresses.get(id),
    });
    cleanups.push(() => {
      client.close();
    });
    const forwarder = new Forwarder({
      selfId: 1,
      leaders,
      client,
      local: () => Promise.reject(new Error('node 1 never leads here')),
      deadlineMs: 10_000,
      clock: time,
      timer: time,
      randomInt: () => 0,
    });
    return { time, leaders, forwarder };
  }

  const activeAnswer = (nodeId: number) => (request: CoreRequest) =>
    served(request.requestId ?? '', nodeId);

  it('resends to the new leader with the same request id after NOT_ACTIVE, then after a crash', async () => {
    const deposed = await startNode(2, (request) =>
      refusal(request.requestId ?? '', 'COFFER_CORE_NOT_ACTIVE'),
    );
    const crashed = await startNode(3, activeAnswer(3));
    const addresses = new Map([
      [2, deposed.server.address],
      [3, crashed.server.address],
    ]);
    const { time, leaders, forwarder } = await standby(addresses);

    leaders.publish(leader(2, 1));
    const first = forwarder.handle(readRequest);
    await waitUntil('node 2 answers NOT_ACTIVE', () => forwarder.stats().triesFailed === 1);
    leaders.publish(leader(3, 2));
    expect(await first).toEqual(served('client-7', 3));
    expect(deposed.handled).toEqual([readRequest]);
    expect(crashed.handled).toEqual([readRequest]);

    // Node 3 goes down; node 2 takes over.
    await crashed.server.close();
    const active = await startNode(2, activeAnswer(2));
    const second = forwarder.handle({ ...readRequest, requestId: 'client-8' });
    await waitUntil('node 3 is unreachable', () => forwarder.stats().triesFailed === 2);
    addresses.set(2, active.server.address);
    leaders.publish(leader(2, 3));
    expect(await second).toEqual(served('client-8', 2));
    expect(active.handled.map((handled) => [handled.requestId, handled.clientAddress])).toEqual([
      ['client-8', '203.0.113.9'],
    ]);
    expect(time.nowMs()).toBe(0);
  });

  it('answers NOT_ACTIVE when no leader answers before the deadline', async () => {
    const deposed = await startNode(2, (request) =>
      refusal(request.requestId ?? '', 'COFFER_CORE_NOT_ACTIVE'),
    );
    const { time, leaders, forwarder } = await standby(new Map([[2, deposed.server.address]]));
    leaders.publish(leader(2, 1));
    const answer = forwarder.handle(readRequest);
    await waitUntil('node 2 answers NOT_ACTIVE', () => forwarder.stats().triesFailed === 1);
    await waitUntil('the forwarder waits', () => time.pending === 2);
    time.advance(10_000);
    expect(await answer).toMatchObject({
      ok: false,
      requestId: 'client-7',
      code: 'COFFER_CORE_NOT_ACTIVE',
    });
    expect(deposed.handled.length).toBeGreaterThanOrEqual(1);
  });
});
