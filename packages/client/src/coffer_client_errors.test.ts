/**
 * Goal: every way a call can fail reaches the caller as a rejected CofferClientError with a
 * stable code: a server refusal keeps the server's code, message and retry hint; a deadline, a
 * stopped server, a wrong CA, a closed client, a bad token or bad data get a COFFER_CLIENT_*
 * code and a message that says what to do; and no message ever shows a token or a value.
 * Method: RecordingServer (grpc-js over real TLS on 127.0.0.1) answers as each test says; a
 * server that is stopped, or one whose certificate another CA signed, stands for the network.
 */
import { inspect } from 'node:util';

import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { CofferClient } from './coffer_client.ts';
import { ClientErrorCode, CofferClientError } from './errors.ts';
import { echoMethodReply, RecordingServer } from './testing/recording_server.ts';
import { createTestTls, type TestTls } from './testing/test_tls.ts';

const canaryToken = 'canary-token-5ec7e7';
const canaryValue = 'canary-value-0dd5';

/** The rejection of `promise`, which must reject with a CofferClientError. */
async function rejectionOf(promise: Promise<unknown>): Promise<CofferClientError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(CofferClientError);
  return error as CofferClientError;
}

/** Every text a log line could take from `error`, cause included. */
function everyText(error: CofferClientError): string {
  return [error.message, String(error), error.stack ?? '', inspect(error, { depth: 10 })].join(
    '\n',
  );
}

describe('CofferClient errors', () => {
  let tls: TestTls;
  let server: RecordingServer;
  let client: CofferClient;
  const seen: CofferClientError[] = [];

  beforeAll(async () => {
    tls = createTestTls();
    server = await RecordingServer.start(tls);
    client = new CofferClient({ address: server.address, caCert: tls.certPem, token: canaryToken });
  });

  afterAll(() => {
    client.close();
    server.stop();
    // Every error these tests saw, cause and all, is free of the canaries.
    expect(seen.length).toBeGreaterThan(5);
    for (const error of seen) {
      expect(everyText(error)).not.toContain(canaryToken);
      expect(everyText(error)).not.toContain(canaryValue);
    }
  });

  beforeEach(() => {
    server.reply = echoMethodReply;
  });

  async function failure(promise: Promise<unknown>): Promise<CofferClientError> {
    const error = await rejectionOf(promise);
    seen.push(error);
    return error;
  }

  it('a refusal keeps the server code and message from the trailers', async () => {
    server.reply = () => ({
      kind: 'error',
      grpcCode: status.PERMISSION_DENIED,
      details: 'Ask for a policy that grants read on "secret/data/other"',
      trailers: { 'coffer-error-code': 'COFFER_CORE_PERMISSION_DENIED' },
    });
    const error = await failure(client.kv.get({ path: 'other' }));
    expect(error.code).toBe('COFFER_CORE_PERMISSION_DENIED');
    expect(error.grpcCode).toBe(status.PERMISSION_DENIED);
    expect(error.message).toBe('Ask for a policy that grants read on "secret/data/other"');
    expect(error.retryAfterMs).toBeUndefined();
  });

  it('a rate-limited refusal carries retryAfterMs from coffer-retry-after-ms', async () => {
    server.reply = () => ({
      kind: 'error',
      grpcCode: status.RESOURCE_EXHAUSTED,
      details: 'Wait before the next share',
      trailers: {
        'coffer-error-code': 'COFFER_CORE_UNSEAL_RATE_LIMITED',
        'coffer-retry-after-ms': '1500',
      },
    });
    const error = await failure(client.sys.unseal({ key: canaryValue }));
    expect(error.code).toBe('COFFER_CORE_UNSEAL_RATE_LIMITED');
    expect(error.grpcCode).toBe(status.RESOURCE_EXHAUSTED);
    expect(error.retryAfterMs).toBe(1500);
  });

  it('a status without a Coffer code becomes COFFER_CLIENT_CALL_FAILED', async () => {
    server.reply = () => ({ kind: 'error', grpcCode: status.UNIMPLEMENTED, details: 'not here' });
    const error = await failure(client.policies.list());
    expect(error.code).toBe(ClientErrorCode.callFailed);
    expect(error.grpcCode).toBe(status.UNIMPLEMENTED);
    expect(error.message).toMatch(/^Check that client and server versions match.*UNIMPLEMENTED/);
  });

  it('a request over the gRPC message limit gives COFFER_CLIENT_MESSAGE_TOO_LARGE, not a version mismatch', async () => {
    // NB: grpc-js refuses a message over 4 MiB (its default) before any Coffer code is set.
    const value = canaryValue.repeat(Math.ceil((5 * 1024 * 1024) / canaryValue.length));
    const error = await failure(client.kv.put({ path: 'big', data: { value } }));
    expect(error.code).toBe(ClientErrorCode.messageTooLarge);
    expect(error.grpcCode).toBe(status.RESOURCE_EXHAUSTED);
    expect(error.message).toMatch(/^Send less data/);
    expect(error.message).not.toMatch(/versions match/);
  });

  it('a server that does not answer in time gives COFFER_CLIENT_DEADLINE_EXCEEDED', async () => {
    server.reply = () => ({ kind: 'hang' });
    const error = await failure(
      client.kv.put({ path: 'a', data: { v: canaryValue } }, { deadlineMs: 100 }),
    );
    expect(error.code).toBe(ClientErrorCode.deadlineExceeded);
    expect(error.grpcCode).toBe(status.DEADLINE_EXCEEDED);
    expect(error.message).toContain('100 ms');
  });

  it('a stopped server gives COFFER_CLIENT_UNAVAILABLE naming the address', async () => {
    const stopped = await RecordingServer.start(tls);
    stopped.stop();
    const lost = new CofferClient({
      address: stopped.address,
      caCert: tls.certPem,
      token: canaryToken,
    });
    try {
      const error = await failure(lost.sys.sealStatus());
      expect(error.code).toBe(ClientErrorCode.unavailable);
      expect(error.grpcCode).toBe(status.UNAVAILABLE);
      expect(error.message).toContain(`"${stopped.address}"`);
      expect(error.message).toMatch(/^Check that the server at .* runs, that COFFER_ADDR/);
    } finally {
      lost.close();
    }
  });

  it('a certificate from another CA gives COFFER_CLIENT_UNAVAILABLE', async () => {
    const stranger = new CofferClient({
      address: server.address,
      caCert: createTestTls().certPem,
      token: canaryToken,
    });
    try {
      const error = await failure(stranger.sys.health());
      expect(error.code).toBe(ClientErrorCode.unavailable);
      expect(server.calls.filter((call) => call.method === 'System/Health')).toEqual([]);
    } finally {
      stranger.close();
    }
  });

  it('serverName verifies a certificate issued for another name than the address host', async () => {
    const named = createTestTls(['coffer.test']);
    const namedServer = await RecordingServer.start(named);
    const plain = new CofferClient({ address: namedServer.address, caCert: named.certPem });
    const overridden = new CofferClient({
      address: namedServer.address,
      caCert: named.certPem,
      serverName: 'coffer.test',
    });
    try {
      expect((await overridden.sys.health()).data).toEqual({ method: 'System/Health' });
      expect((await failure(plain.sys.health())).code).toBe(ClientErrorCode.unavailable);
    } finally {
      plain.close();
      overridden.close();
      namedServer.stop();
    }
  });

  it('a closed client rejects calls with COFFER_CLIENT_CLOSED', async () => {
    const closing = new CofferClient({ address: server.address, caCert: tls.certPem });
    closing.close();
    closing.close();
    const error = await failure(closing.sys.health());
    expect(error.code).toBe(ClientErrorCode.closed);
  });

  it('a token with a line break is refused before the call, without echoing it', async () => {
    const broken = client.withToken(`${canaryToken}\n`);
    const error = await failure(broken.sys.health());
    expect(error.code).toBe(ClientErrorCode.invalidRequest);
    expect(error.message).toMatch(/^Check the token/);
  });

  it('out-of-range wrap TTL, deadline and request id are refused', async () => {
    const codes = [
      (await failure(client.sys.seal({ wrapTtlSeconds: 1.5 }))).code,
      (await failure(client.sys.seal({ deadlineMs: 0 }))).code,
      (await failure(client.sys.seal({ requestId: 'has space' }))).code,
      // The server would replace these with ids of its own, a new one on each try.
      (await failure(client.sys.seal({ requestId: 'r'.repeat(129) }))).code,
      (await failure(client.sys.seal({ requestId: 'id/with:colon' }))).code,
    ];
    expect(codes).toEqual(Array(5).fill(ClientErrorCode.invalidRequest));
    expect(server.calls.filter((call) => call.method === 'System/Seal')).toEqual([]);
  });

  it('data JSON cannot encode rejects with COFFER_CLIENT_INVALID_REQUEST', async () => {
    const error = await failure(client.logical.write('x', { n: 10n, v: canaryValue }));
    expect(error.code).toBe(ClientErrorCode.invalidRequest);
  });

  it('a response whose data_json is not a JSON object gives COFFER_CLIENT_INVALID_RESPONSE', async () => {
    server.reply = () => ({ kind: 'response', response: { data_json: `{"v": ${canaryValue}` } });
    const first = await failure(client.kv.get({ path: 'a' }));
    server.reply = () => ({ kind: 'response', response: { data_json: `["${canaryValue}"]` } });
    const second = await failure(client.kv.get({ path: 'a' }));
    expect([first.code, second.code]).toEqual([
      ClientErrorCode.invalidResponse,
      ClientErrorCode.invalidResponse,
    ]);
  });

  it('new CofferClient refuses a bad address or CA certificate synchronously', () => {
    const attempt = (options: { address: string; caCert: string }): string => {
      try {
        new CofferClient(options).close();
        return 'no error';
      } catch (error) {
        expect(error).toBeInstanceOf(CofferClientError);
        seen.push(error as CofferClientError);
        return (error as CofferClientError).code;
      }
    };
    expect(attempt({ address: 'http://127.0.0.1:8200', caCert: tls.certPem })).toBe(
      ClientErrorCode.invalidAddress,
    );
    expect(attempt({ address: server.address, caCert: `not a PEM ${canaryValue}` })).toBe(
      ClientErrorCode.invalidCaCert,
    );
  });
});
