/**
 * Goal: a CofferClient given every node's address survives a node that is down or cannot serve:
 * the call moves to the next address (round robin from the one that failed) with the same
 * request id, only for UNAVAILABLE without a Coffer code, COFFER_CORE_NOT_ACTIVE and
 * COFFER_CORE_NOT_READY, within the call's deadline; the next call starts at the address that
 * answered last; the options refuse no address, both forms, and a server named twice.
 * Method: RecordingServers (grpc-js over real TLS on 127.0.0.1) answer as each test says; a
 * server started and stopped leaves a port with nothing listening. Failover waits go through a
 * fake timing whose sleep advances a fake clock at once and records the wait, so no test sleeps.
 */
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import type { CofferClientOptions } from './client_api.ts';
import { ClientConnection } from './client_connection.ts';
import { CofferClient } from './coffer_client.ts';
import { ClientErrorCode, CofferClientError } from './errors.ts';
import type { FailoverTiming } from './failover.ts';
import { echoMethodReply, RecordingServer, type Reply } from './testing/recording_server.ts';
import { createTestTls, type TestTls } from './testing/test_tls.ts';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A clock that moves only when failover sleeps; records every wait. */
class FakeTiming implements FailoverTiming {
  readonly startMs = Date.now();
  nowMs = this.startMs;
  readonly sleeps: number[] = [];
  /** Runs at each sleep, before it resolves. */
  onSleep: () => void = () => undefined;
  readonly now = (): number => this.nowMs;
  readonly random = (): number => 0;
  readonly sleep = (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.nowMs += ms;
    this.onSleep();
    return Promise.resolve();
  };
}

function refusal(grpcCode: status, code?: string, trailers: Record<string, string> = {}): Reply {
  return {
    kind: 'error',
    grpcCode,
    details: `refused with ${code ?? 'no code'}`,
    trailers: code === undefined ? trailers : { ...trailers, 'coffer-error-code': code },
  };
}

const notActive = refusal(status.UNAVAILABLE, 'COFFER_CORE_NOT_ACTIVE');

async function rejectionOf(promise: Promise<unknown>): Promise<CofferClientError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(CofferClientError);
  return error as CofferClientError;
}

function codeOf(create: () => CofferClient): string {
  try {
    create().close();
    return 'no error';
  } catch (error) {
    expect(error).toBeInstanceOf(CofferClientError);
    return (error as CofferClientError).code;
  }
}

describe('CofferClient failover', () => {
  let tls: TestTls;
  let servers: RecordingServer[];
  let down: string[];
  let timing: FakeTiming;
  const clients: CofferClient[] = [];

  /** A client over `addresses` whose failover waits go through `timing`. */
  function clientOf(
    addresses: readonly string[],
    extra: Partial<CofferClientOptions> = {},
  ): CofferClient {
    const options: CofferClientOptions = { addresses, caCert: tls.certPem, token: 't', ...extra };
    const client = new CofferClient(options, new ClientConnection(options, { timing }));
    clients.push(client);
    return client;
  }

  function requestIds(server: RecordingServer): (string | undefined)[] {
    return server.calls.map((call) => call.metadata['coffer-request-id']);
  }

  beforeAll(async () => {
    tls = createTestTls();
    servers = await Promise.all([0, 1, 2].map(() => RecordingServer.start(tls)));
    const stopped = await Promise.all([0, 1].map(() => RecordingServer.start(tls)));
    down = stopped.map((server) => server.address);
    for (const server of stopped) {
      server.stop();
    }
  });

  afterAll(() => {
    for (const client of clients) {
      client.close();
    }
    for (const server of servers) {
      server.stop();
    }
  });

  beforeEach(() => {
    timing = new FakeTiming();
    for (const server of servers) {
      server.calls.length = 0;
      server.reply = echoMethodReply;
    }
  });

  it('CofferClient moves a call to the next address when nothing listens at the first', async () => {
    const [b] = servers as [RecordingServer];
    const client = clientOf([down[0] ?? '', b.address]);
    const response = await client.kv.get({ path: 'app/db' });
    expect(response.data).toEqual({ method: 'Kv/Get' });
    expect(requestIds(b)).toEqual([expect.stringMatching(uuidPattern)]);
    expect(timing.sleeps).toEqual([25]);
    expect(client.address).toBe(b.address);
  });

  it.each([
    ['COFFER_CORE_NOT_ACTIVE', undefined],
    ['COFFER_CORE_NOT_READY', 'caller-id.7_x'],
  ])(
    'CofferClient moves a call answered %s to the next node with one request id',
    async (code, id) => {
      const [a, b] = servers as [RecordingServer, RecordingServer];
      a.reply = () => refusal(status.UNAVAILABLE, code);
      const client = clientOf([a.address, b.address]);
      await client.kv.put(
        { path: 'app/db', data: { v: 1 } },
        id === undefined ? {} : { requestId: id },
      );
      const [first] = requestIds(a);
      expect(first).toMatch(id ?? uuidPattern);
      expect(requestIds(a)).toEqual([first]);
      expect(requestIds(b)).toEqual([first]);
      expect(b.calls[0]?.request).toEqual(a.calls[0]?.request);
    },
  );

  it('CofferClient gives each logical call its own request id', async () => {
    const [a] = servers as [RecordingServer];
    const client = clientOf([a.address]);
    await client.sys.health();
    await client.sys.health();
    const [first, second] = requestIds(a);
    expect(first).toMatch(uuidPattern);
    expect(second).toMatch(uuidPattern);
    expect(first).not.toBe(second);
  });

  it.each([
    [
      refusal(status.PERMISSION_DENIED, 'COFFER_CORE_PERMISSION_DENIED'),
      'COFFER_CORE_PERMISSION_DENIED',
    ],
    [refusal(status.INVALID_ARGUMENT, 'COFFER_API_INVALID_REQUEST'), 'COFFER_API_INVALID_REQUEST'],
    [
      refusal(status.RESOURCE_EXHAUSTED, 'COFFER_CORE_RATE_LIMITED', {
        'coffer-retry-after-ms': '20',
      }),
      'COFFER_CORE_RATE_LIMITED',
    ],
    [refusal(status.UNAVAILABLE, 'COFFER_CORE_SEALED'), 'COFFER_CORE_SEALED'],
    [refusal(status.DEADLINE_EXCEEDED), ClientErrorCode.deadlineExceeded],
    [refusal(status.UNIMPLEMENTED), ClientErrorCode.callFailed],
  ])('CofferClient does not retry a call answered %j', async (reply, code) => {
    const [a, b] = servers as [RecordingServer, RecordingServer];
    a.reply = () => reply;
    const client = clientOf([a.address, b.address]);
    const error = await rejectionOf(client.kv.get({ path: 'app/db' }));
    expect(error.code).toBe(code);
    expect([a.calls.length, b.calls.length, timing.sleeps]).toEqual([1, 0, []]);
  });

  it('CofferClient retries until the backoff would pass the deadline, then rejects', async () => {
    const [a, b] = servers as [RecordingServer, RecordingServer];
    a.reply = () => notActive;
    b.reply = () => notActive;
    const client = clientOf([a.address, b.address], { deadlineMs: 1_000 });
    const error = await rejectionOf(client.kv.get({ path: 'app/db' }));
    expect(error.code).toBe('COFFER_CORE_NOT_ACTIVE');
    // 25 + 50 + 100 + 200 + 400 = 775 ms; the next wait (500 ms) would end after 1000 ms.
    expect(timing.sleeps).toEqual([25, 50, 100, 200, 400]);
    expect(timing.nowMs - timing.startMs).toBeLessThan(1_000);
    const [id] = requestIds(a);
    expect(requestIds(a)).toEqual([id, id, id]);
    expect(requestIds(b)).toEqual([id, id, id]);
    // Every try carries the call's one deadline (grpc-timeout rounds it by a few ms), not a new one.
    for (const call of [...a.calls, ...b.calls]) {
      expect(Math.abs(call.deadlineMs - (timing.startMs + 1_000))).toBeLessThan(100);
    }
  });

  it('CofferClient names every address when no node answers before the deadline', async () => {
    const client = clientOf(down, { deadlineMs: 200 });
    const error = await rejectionOf(client.sys.health());
    expect(error.code).toBe(ClientErrorCode.unavailable);
    // 25 + 50 + 100 = 175 ms; the next wait (200 ms) would end after 200 ms.
    expect(timing.sleeps).toEqual([25, 50, 100]);
    expect(error.message).toContain(`"${down[0] ?? ''}", "${down[1] ?? ''}"`);
    expect(error.message).toContain('the last of 4 tries before the deadline of 200 ms');
  });

  it('CofferClient starts at the address that answered last and round-robins from a failure', async () => {
    const [a, b, c] = servers as [RecordingServer, RecordingServer, RecordingServer];
    const client = clientOf([a.address, b.address, c.address]);
    a.reply = () => notActive;
    await client.sys.health();
    await client.withToken('other').sys.health();
    expect([a.calls.length, b.calls.length, c.calls.length]).toEqual([1, 2, 0]);
    expect(client.address).toBe(b.address);
    b.reply = () => refusal(status.UNAVAILABLE, 'COFFER_CORE_NOT_READY');
    await client.sys.health();
    await client.sys.health();
    expect([a.calls.length, b.calls.length, c.calls.length]).toEqual([1, 3, 2]);
    expect(client.address).toBe(c.address);
  });

  it('CofferClient keeps a refusing node as the start of the next call', async () => {
    const [a, b] = servers as [RecordingServer, RecordingServer];
    const client = clientOf([down[0] ?? '', a.address, b.address]);
    a.reply = () => refusal(status.PERMISSION_DENIED, 'COFFER_CORE_PERMISSION_DENIED');
    await rejectionOf(client.sys.health());
    expect(client.address).toBe(a.address);
    a.reply = echoMethodReply;
    await client.sys.health();
    expect([a.calls.length, b.calls.length, timing.sleeps]).toEqual([2, 0, [25]]);
  });

  it('CofferClient with one address makes one try, as before', async () => {
    const [a] = servers as [RecordingServer];
    a.reply = () => notActive;
    const client = clientOf([a.address]);
    const error = await rejectionOf(client.sys.health());
    expect(error.code).toBe('COFFER_CORE_NOT_ACTIVE');
    expect([a.calls.length, timing.sleeps]).toEqual([1, []]);
  });

  it('CofferClient closed during a backoff rejects with COFFER_CLIENT_CLOSED', async () => {
    const [a, b] = servers as [RecordingServer, RecordingServer];
    a.reply = () => notActive;
    const client = clientOf([a.address, b.address]);
    timing.onSleep = () => {
      client.close();
    };
    const error = await rejectionOf(client.sys.health());
    expect(error.code).toBe(ClientErrorCode.closed);
    expect([a.calls.length, b.calls.length]).toEqual([1, 0]);
  });

  it('new CofferClient refuses no address, both forms and a server named twice', () => {
    const caCert = tls.certPem;
    const [a] = servers as [RecordingServer];
    const refused = [
      codeOf(() => new CofferClient({ caCert })),
      codeOf(() => new CofferClient({ addresses: [], caCert })),
      codeOf(() => new CofferClient({ address: a.address, addresses: [a.address], caCert })),
      codeOf(() => new CofferClient({ addresses: [a.address, `https://${a.address}`], caCert })),
      codeOf(() => new CofferClient({ addresses: [a.address, 'http://127.0.0.1:1'], caCert })),
    ];
    expect(refused).toEqual(Array(5).fill(ClientErrorCode.invalidAddress));
    expect(codeOf(() => new CofferClient({ addresses: [a.address], caCert }))).toBe('no error');
  });

  it('CofferClient with address lists it as its one address', () => {
    const [a] = servers as [RecordingServer];
    const client = new CofferClient({ address: `https://${a.address}`, caCert: tls.certPem });
    clients.push(client);
    expect(client.addresses).toEqual([`https://${a.address}`]);
    expect(client.address).toBe(`https://${a.address}`);
  });
});
