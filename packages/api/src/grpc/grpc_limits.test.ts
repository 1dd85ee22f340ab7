/**
 * Goal: the listener's bounds hold: beyond inFlightMax concurrent calls a call is refused with
 * RESOURCE_EXHAUSTED and COFFER_API_OVERLOADED without reaching the router, and served again once
 * the router answers; a call whose deadline has passed is answered DEADLINE_EXCEEDED without
 * reaching the router; a call cancelled while the router works gets no answer and frees its
 * slot; the router's request carries the metadata (token, wrap TTL, request id) and the peer
 * address; reflection is served only when enabled; shutdown refuses new calls, lets an
 * in-flight one finish within the grace, cancels one that outlives it, and ends the listener.
 * Method: a real GrpcApiServer over TLS on 127.0.0.1 port 0 in front of a fake RequestHandler
 * whose answers the test releases by hand (gates), and a fake wall clock for the deadline.
 * Waits are on call answers and on the handler's arrivals, never on timers.
 */
import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import type { CoreRequest, CoreResponse } from '@coffer/core';

import { GrpcTestClient } from '../testing/grpc_test_client.ts';
import { createTestTls } from '../testing/test_node.ts';
import {
  GrpcApiServer,
  type GrpcApiServerOptions,
  type GrpcRequestEvent,
} from './grpc_api_server.ts';

/** A handler that holds each request until the test releases it. */
class GatedHandler {
  readonly requests: CoreRequest[] = [];
  readonly #held: ((response: CoreResponse) => void)[] = [];
  readonly #arrivals: (() => void)[] = [];

  handle(request: CoreRequest): Promise<CoreResponse> {
    this.requests.push(request);
    for (const wake of this.#arrivals.splice(0)) {
      wake();
    }
    return new Promise((resolve) => this.#held.push(resolve));
  }

  /** Resolves once `count` requests have arrived. */
  async arrived(count: number): Promise<void> {
    while (this.requests.length < count) {
      await new Promise<void>((resolve) => this.#arrivals.push(resolve));
    }
  }

  releaseAll(): void {
    for (const resolve of this.#held.splice(0)) {
      resolve({ ok: true, requestId: 'r', data: { released: true }, mountPath: 'secret/' });
    }
  }
}

const opened: { server: GrpcApiServer; client: GrpcTestClient }[] = [];

afterEach(async () => {
  for (const { server, client } of opened.splice(0)) {
    client.close();
    await server.shutdown(100);
  }
});

async function start(
  handler: GatedHandler,
  options: Partial<GrpcApiServerOptions> = {},
): Promise<{ server: GrpcApiServer; client: GrpcTestClient }> {
  const tls = await createTestTls();
  const server = await GrpcApiServer.start({
    handler,
    host: '127.0.0.1',
    port: 0,
    tls,
    ...options,
  });
  const client = new GrpcTestClient(server.port, tls.certPem);
  opened.push({ server, client });
  return { server, client };
}

const health = '/coffer.v1.System/Health';

describe('GrpcApiServer limits', () => {
  it('refuses calls beyond inFlightMax with COFFER_API_OVERLOADED and recovers', async () => {
    const handler = new GatedHandler();
    const events: GrpcRequestEvent[] = [];
    const { client } = await start(handler, {
      limits: { inFlightMax: 2 },
      onRequest: (event) => events.push(event),
    });
    const first = client.call(health, {});
    const second = client.call(health, {});
    await handler.arrived(2);
    const third = await client.call(health, {});
    expect(third).toMatchObject({
      ok: false,
      status: status.RESOURCE_EXHAUSTED,
      errorCode: 'COFFER_API_OVERLOADED',
    });
    expect(handler.requests).toHaveLength(2);
    handler.releaseAll();
    expect((await first).ok).toBe(true);
    expect((await second).ok).toBe(true);
    const fourth = client.call(health, {});
    await handler.arrived(3);
    handler.releaseAll();
    expect((await fourth).ok).toBe(true);
    expect(events.map((e) => e.code)).toEqual(['COFFER_API_OVERLOADED', 'ok', 'ok', 'ok']);
    expect(events[1]).toMatchObject({ operation: 'read', mount: 'secret/' });
  });

  it('answers DEADLINE_EXCEEDED without reaching the router when the deadline has passed', async () => {
    const handler = new GatedHandler();
    const { client } = await start(handler, { wallClockMs: () => Date.now() + 3_600_000 });
    const result = await client.call(health, {}, { deadlineMs: 60_000 });
    expect(result).toMatchObject({
      ok: false,
      status: status.DEADLINE_EXCEEDED,
      errorCode: 'COFFER_API_DEADLINE_EXCEEDED',
    });
    expect(handler.requests).toHaveLength(0);
  });

  it('ends a call whose deadline passes while the router works, and frees its slot', async () => {
    const handler = new GatedHandler();
    const { client } = await start(handler, { limits: { inFlightMax: 1 } });
    const late = await client.call(health, {}, { deadlineMs: 200 });
    expect(late).toMatchObject({ ok: false, status: status.DEADLINE_EXCEEDED });
    expect(handler.requests).toHaveLength(1);
    handler.releaseAll();
    const next = client.call(health, {});
    await handler.arrived(2);
    handler.releaseAll();
    expect((await next).ok).toBe(true);
  });

  it('drops the answer of a cancelled call and frees its slot when the router answers', async () => {
    const handler = new GatedHandler();
    const { client } = await start(handler, { limits: { inFlightMax: 1 } });
    let cancel: (() => void) | undefined;
    const cancelled = client.call(
      health,
      {},
      {
        onCall: (call) => {
          cancel = () => {
            call.cancel();
          };
        },
      },
    );
    await handler.arrived(1);
    cancel?.();
    expect(await cancelled).toMatchObject({ ok: false, status: status.CANCELLED });
    handler.releaseAll();
    const next = client.call(health, {});
    await handler.arrived(2);
    handler.releaseAll();
    expect((await next).ok).toBe(true);
  });

  it('passes the token, wrap TTL, request id and peer address to the router', async () => {
    const handler = new GatedHandler();
    const { client } = await start(handler);
    const call = client.call(
      '/coffer.v1.Kv/Put',
      { path: 'a/b', data_json: '{"k":"v"}', cas: 0 },
      { token: 'cfr.token', metadata: { 'coffer-wrap-ttl': '300', 'coffer-request-id': 'req-1' } },
    );
    await handler.arrived(1);
    handler.releaseAll();
    await call;
    expect(handler.requests[0]).toEqual({
      operation: 'update',
      path: 'secret/data/a/b',
      data: { data: { k: 'v' }, options: { cas: 0 } },
      token: 'cfr.token',
      wrapTtlSeconds: 300,
      requestId: 'req-1',
      clientAddress: '127.0.0.1',
    });
  });

  it('serves reflection only when enabled', async () => {
    const off = await start(new GatedHandler());
    expect(off.server.registeredMethods().some((m) => m.includes('reflection'))).toBe(false);
    const on = await start(new GatedHandler(), { reflection: true });
    const names = on.server.registeredMethods();
    expect(names).toContain('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo');
  });

  it('shutdown stops the listener: a new call fails UNAVAILABLE', async () => {
    const handler = new GatedHandler();
    const tls = await createTestTls();
    const server = await GrpcApiServer.start({ handler, host: '127.0.0.1', port: 0, tls });
    await server.shutdown(100);
    const client = new GrpcTestClient(server.port, tls.certPem);
    const result = await client.call(health, {}, { deadlineMs: 2000 });
    client.close();
    expect(result.ok).toBe(false);
  });

  it('shutdown lets an in-flight call finish within the grace and refuses new calls', async () => {
    const handler = new GatedHandler();
    const tls = await createTestTls();
    const server = await GrpcApiServer.start({ handler, host: '127.0.0.1', port: 0, tls });
    const client = new GrpcTestClient(server.port, tls.certPem);
    const running = client.call(health, {});
    await handler.arrived(1);
    let closed = false;
    const shutdown = server.shutdown(60_000).then(() => {
      closed = true;
    });
    const late = new GrpcTestClient(server.port, tls.certPem);
    const refused = await late.call(health, {}, { deadlineMs: 2000 });
    late.close();
    expect(refused.ok).toBe(false);
    expect(handler.requests).toHaveLength(1);
    expect(closed).toBe(false);
    handler.releaseAll();
    expect(await running).toMatchObject({ ok: true });
    await shutdown;
    client.close();
  });

  it('shutdown cancels a call that outlives the grace, then resolves', async () => {
    const handler = new GatedHandler();
    const tls = await createTestTls();
    const server = await GrpcApiServer.start({ handler, host: '127.0.0.1', port: 0, tls });
    const client = new GrpcTestClient(server.port, tls.certPem);
    const running = client.call(health, {});
    await handler.arrived(1);
    await server.shutdown(100);
    const result = await running;
    expect(result.ok).toBe(false);
    handler.releaseAll();
    client.close();
  });
});
