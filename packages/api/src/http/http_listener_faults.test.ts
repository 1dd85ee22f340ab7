/**
 * Goal: the HTTP listener shuts down gracefully (an in-flight request finishes, new connections
 * are refused, a request that outlives the grace bound is cut) and answers a failing router
 * with a stable code instead of crashing or hanging.
 * Method: HttpListener on 127.0.0.1 port 0 over a fake router port whose answers the test
 * releases by hand; node:https clients; the test waits on the router being called (a promise),
 * never on time. The grace bound of the forced close is the bound under test, not a sleep.
 */
import { request } from 'node:https';

import type { CoreRequest, CoreResponse } from '@coffer/core';
import { afterEach, describe, expect, it } from 'vitest';

import { ApiMetrics } from '../metrics/api_metrics.ts';
import { createTestTls } from '../testing/test_node.ts';
import type { TlsMaterial } from '@coffer/core';
import { HttpListener } from './http_listener.ts';

const statusData = {
  initialized: true,
  sealed: false,
  standby: false,
  type: 'shamir',
  cluster_id: 'c',
  t: null,
  n: null,
  progress: 0,
  nonce: null,
};

/** A router port whose answers wait until the test releases them. */
class HeldRouter {
  readonly calls: CoreRequest[] = [];
  #release: (() => void) | undefined;
  #called: (() => void) | undefined;
  readonly called = new Promise<void>((resolve) => {
    this.#called = resolve;
  });
  readonly #released = new Promise<void>((resolve) => {
    this.#release = resolve;
  });

  handle = async (coreRequest: CoreRequest): Promise<CoreResponse> => {
    this.calls.push(coreRequest);
    this.#called?.();
    await this.#released;
    return { ok: true, requestId: 'r', data: statusData };
  };

  release(): void {
    this.#release?.();
  }
}

interface Reply {
  readonly status: number;
  readonly connection: string | undefined;
  readonly body: string;
}

function ask(port: number, path: string, ca: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, path, ca, agent: false }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('error', reject);
      incoming.on('end', () => {
        resolve({
          status: incoming.statusCode ?? 0,
          connection: incoming.headers.connection,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

const started: { listener: HttpListener; metrics: ApiMetrics }[] = [];

async function startWith(
  handler: (coreRequest: CoreRequest) => Promise<CoreResponse>,
): Promise<{ listener: HttpListener; tls: TlsMaterial }> {
  const tls = await createTestTls();
  const metrics = new ApiMetrics();
  const listener = await HttpListener.start({
    handler,
    host: '127.0.0.1',
    port: 0,
    tls,
    metrics,
    metricsUnauthenticated: false,
  });
  started.push({ listener, metrics });
  return { listener, tls };
}

afterEach(async () => {
  for (const { listener, metrics } of started.splice(0)) {
    await listener.close(100);
    metrics.close();
  }
});

describe('HttpListener.close', () => {
  it('HttpListener.close lets an in-flight request finish and refuses new connections', async () => {
    const router = new HeldRouter();
    const { listener, tls } = await startWith(router.handle);
    const port = listener.port;
    const inFlight = ask(port, '/v1/sys/health', tls.certPem);
    await router.called;
    const closed = listener.close(10_000);
    await expect(ask(port, '/v1/sys/health', tls.certPem)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    router.release();
    const reply = await inFlight;
    expect(reply.status).toBe(200);
    await closed;
  });

  it('HttpListener.close cuts a request that outlives the grace bound', async () => {
    const router = new HeldRouter();
    const { listener, tls } = await startWith(router.handle);
    const inFlight = ask(listener.port, '/v1/sys/health', tls.certPem);
    inFlight.catch(() => undefined);
    await router.called;
    await listener.close(50);
    await expect(inFlight).rejects.toMatchObject({ code: 'ECONNRESET' });
    router.release();
  });
});

describe('HttpListener with a failing router', () => {
  it('HttpListener answers a throwing router with 500 and a stable code', async () => {
    const { listener, tls } = await startWith(() => Promise.reject(new Error('boom')));
    const reply = await ask(listener.port, '/v1/sys/health', tls.certPem);
    expect(reply.status).toBe(500);
    expect(JSON.parse(reply.body)).toMatchObject({ code: 'COFFER_CORE_INTERNAL' });
    expect(reply.body).not.toContain('boom');
  });

  it('HttpListener answers malformed status data with 500 and keeps serving', async () => {
    let calls = 0;
    const { listener, tls } = await startWith(() => {
      calls += 1;
      const data = calls === 1 ? { initialized: 'yes' } : statusData;
      return Promise.resolve({ ok: true, requestId: 'r', data });
    });
    const bad = await ask(listener.port, '/v1/sys/seal-status', tls.certPem);
    expect(bad.status).toBe(500);
    expect(JSON.parse(bad.body)).toMatchObject({ code: 'COFFER_API_INTERNAL' });
    const good = await ask(listener.port, '/v1/sys/seal-status', tls.certPem);
    expect(good.status).toBe(200);
  });
});
