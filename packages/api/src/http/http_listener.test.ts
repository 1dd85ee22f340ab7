/**
 * Goal: the HTTP listener answers Vault's status endpoints with Vault's codes for a real node's
 * states (501 before init, 200 active, 503 sealed) and their query overrides; the metrics
 * scrape needs a token with read on sys/metrics unless configured otherwise and shows request
 * series with only operation, mount and code labels; unknown paths, wrong methods and bodies
 * are refused with stable codes; a canary path and a canary token never come back in any
 * answer or in the metrics; a TLS reload serves the new certificate on new connections while
 * an open keep-alive connection keeps working; close() ends with connections still open.
 * Method: a real single-voter CofferNode (testing/test_node.ts) behind two HttpListeners on
 * 127.0.0.1 port 0 (one with unauthenticated metrics), driven by node:https clients that trust
 * the listener's self-signed certificates. The tests run in order over one node's life.
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request } from 'node:https';
import { TLSSocket } from 'node:tls';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ApiMetrics } from '../metrics/api_metrics.ts';
import { createTestTls, openTestNode, type TestNode } from '../testing/test_node.ts';
import type { TlsMaterial } from '@coffer/core';
import { HttpListener } from './http_listener.ts';

const canaryToken = 'hvs.canary-token-5f0c2a9e';
const canaryPath = 'canary-path-91d3b7';

/** One answer as a test sees it. */
interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly fingerprint: string;
  readonly reusedSocket: boolean;
}

interface Ask {
  readonly port: number;
  readonly path: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Default: a fresh connection for this request. */
  readonly agent?: Agent;
  /** The certificate to trust; default the listener's current one. */
  readonly ca?: string;
}

/** Every answer of the file, for the canary scan. */
const replies: Reply[] = [];
/** The certificate each listener (by port) serves now. */
const trusted = new Map<number, string>();

function ask(options: Ask): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: '127.0.0.1',
        port: options.port,
        path: options.path,
        method: options.method ?? 'GET',
        headers: options.headers,
        ca: options.ca ?? trusted.get(options.port),
        agent: options.agent ?? false,
      },
      (incoming) => {
        const socket = incoming.socket;
        const fingerprint =
          socket instanceof TLSSocket ? socket.getPeerCertificate().fingerprint256 : '';
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', reject);
        incoming.on('end', () => {
          const reply = {
            status: incoming.statusCode ?? 0,
            headers: incoming.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            fingerprint,
            reusedSocket: outgoing.reusedSocket,
          };
          replies.push(reply);
          resolve(reply);
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

function json(reply: Reply): Record<string, unknown> {
  return JSON.parse(reply.body) as Record<string, unknown>;
}

function fingerprintOf(tls: TlsMaterial): string {
  return new X509Certificate(tls.certPem).fingerprint256;
}

let testNode: TestNode;
let tls: TlsMaterial;
let metrics: ApiMetrics;
let listener: HttpListener;
let openListener: HttpListener;
let rootToken = '';

beforeAll(async () => {
  testNode = await openTestNode();
  tls = await createTestTls();
  metrics = new ApiMetrics({ source: { snapshot: () => testNode.node.metrics() } });
  const common = { handler: testNode.node, host: '127.0.0.1', port: 0, tls, metrics };
  listener = await HttpListener.start({
    ...common,
    metricsUnauthenticated: false,
    version: '9.9.9',
    wallClockMs: () => 1_700_000_000_000,
  });
  openListener = await HttpListener.start({ ...common, metricsUnauthenticated: true });
  trusted.set(listener.port, tls.certPem);
  trusted.set(openListener.port, tls.certPem);
});

afterAll(async () => {
  await listener.close(1000);
  await openListener.close(1000);
  metrics.close();
  await testNode.close();
});

describe('HttpListener before init', () => {
  it('HttpListener answers sys/health with 501 before init, and honours uninitcode', async () => {
    const health = await ask({ port: listener.port, path: '/v1/sys/health' });
    expect(health.status).toBe(501);
    expect(health.headers['content-type']).toBe('application/json');
    expect(json(health)).toMatchObject({
      initialized: false,
      sealed: true,
      standby: false,
      server_time_utc: 1_700_000_000,
      version: '9.9.9',
    });
    const head = await ask({ port: listener.port, path: '/v1/sys/health', method: 'HEAD' });
    expect([head.status, head.body]).toEqual([501, '']);
    const custom = await ask({ port: listener.port, path: '/v1/sys/health?uninitcode=299' });
    expect(custom.status).toBe(299);
  });

  it('HttpListener answers sys/seal-status with Vault fields before init', async () => {
    const reply = await ask({ port: listener.port, path: '/v1/sys/seal-status' });
    expect(reply.status).toBe(200);
    expect(json(reply)).toMatchObject({
      type: 'shamir',
      initialized: false,
      sealed: true,
      t: 0,
      n: 0,
      progress: 0,
      nonce: '',
      version: '9.9.9',
    });
  });

  it('HttpListener refuses a bad health query value with 400 without echoing it', async () => {
    const reply = await ask({
      port: listener.port,
      path: `/v1/sys/health?sealedcode=${canaryPath}`,
    });
    expect(reply.status).toBe(400);
    expect(json(reply)).toMatchObject({ code: 'COFFER_API_INVALID_REQUEST' });
  });
});

describe('HttpListener on an active node', () => {
  it('HttpListener answers sys/health with 200 once active, and honours activecode', async () => {
    rootToken = (await testNode.initAndUnseal()).rootToken;
    const health = await ask({ port: listener.port, path: '/v1/sys/health' });
    expect(health.status).toBe(200);
    expect(json(health)).toMatchObject({ initialized: true, sealed: false, standby: false });
    expect(typeof json(health)['cluster_id']).toBe('string');
    const custom = await ask({ port: listener.port, path: '/v1/sys/health?activecode=204' });
    expect(custom.status).toBe(204);
  });

  it('HttpListener refuses the metrics without a token and with a bogus one', async () => {
    const none = await ask({ port: listener.port, path: '/v1/sys/metrics' });
    expect(none.status).toBe(401);
    expect(json(none)).toMatchObject({ code: 'COFFER_API_TOKEN_MISSING' });
    const bogus = await ask({
      port: listener.port,
      path: '/v1/sys/metrics',
      headers: { 'x-coffer-token': canaryToken },
    });
    expect(bogus.status).toBe(403);
    expect(json(bogus)).toMatchObject({ code: 'COFFER_CORE_PERMISSION_DENIED' });
    const bearer = await ask({
      port: listener.port,
      path: '/v1/sys/metrics',
      headers: { authorization: `Bearer ${canaryToken}` },
    });
    expect(bearer.status).toBe(403);
  });

  it('HttpListener serves the metrics with the root token and unauthenticated when allowed', async () => {
    const withHeader = await ask({
      port: listener.port,
      path: '/v1/sys/metrics',
      headers: { 'x-coffer-token': rootToken },
    });
    expect(withHeader.status).toBe(200);
    expect(withHeader.headers['content-type']).toContain('text/plain');
    expect(withHeader.body).toContain('coffer_active 1');
    const withBearer = await ask({
      port: listener.port,
      path: '/v1/sys/metrics',
      headers: { authorization: `Bearer ${rootToken}` },
    });
    expect(withBearer.status).toBe(200);
    const open = await ask({ port: openListener.port, path: '/v1/sys/metrics' });
    expect(open.status).toBe(200);
    expect(open.body).toContain('coffer_sealed 0');
  });

  it('HttpListener serves the metrics to a token whose policy reads sys/metrics, not to others', async () => {
    const policy = 'path "sys/metrics" { capabilities = ["read"] }\n';
    const wrote = await testNode.node.handle({
      operation: 'update',
      path: 'sys/policies/acl/scraper',
      data: { policy },
      token: rootToken,
    });
    expect(wrote.ok).toBe(true);
    const tokenWith = async (policies: string[]): Promise<string> => {
      const created = await testNode.node.handle({
        operation: 'update',
        path: 'auth/token/create',
        data: { policies },
        token: rootToken,
      });
      const token = created.ok ? created.auth?.clientToken : undefined;
      expect(typeof token).toBe('string');
      return token ?? '';
    };
    const scraper = await ask({
      port: listener.port,
      path: '/v1/sys/metrics',
      headers: { 'x-coffer-token': await tokenWith(['scraper']) },
    });
    expect(scraper.status).toBe(200);
    expect(scraper.body).toContain('coffer_active 1');
    const other = await ask({
      port: listener.port,
      path: '/v1/sys/metrics',
      headers: { 'x-coffer-token': await tokenWith(['default']) },
    });
    expect(other.status).toBe(403);
    expect(json(other)).toMatchObject({ code: 'COFFER_CORE_PERMISSION_DENIED' });
  });

  it('HttpListener metrics carry request series with only operation, mount and code labels', async () => {
    const reply = await ask({ port: openListener.port, path: '/v1/sys/metrics' });
    const series = reply.body
      .split('\n')
      .filter((line) => /^coffer_request(s_total|_duration_seconds_count)\{/.test(line));
    expect(series.length).toBeGreaterThan(0);
    expect(reply.body).toMatch(
      /coffer_requests_total\{operation="read",mount="[a-z/]+",code="COFFER_CORE_PERMISSION_DENIED"\} [1-9]/,
    );
    expect(reply.body).toMatch(
      /coffer_requests_total\{operation="read",mount="sys\/",code="ok"\} [1-9]/,
    );
    for (const line of series) {
      const labels = [...line.matchAll(/(\w+)="/g)].map((match) => match[1]);
      expect(labels).toEqual(['operation', 'mount', 'code']);
    }
  });

  it('HttpListener refuses unknown paths, wrong methods and bodies with stable codes', async () => {
    const unknown = await ask({ port: listener.port, path: `/v1/secret/data/${canaryPath}` });
    expect(unknown.status).toBe(404);
    expect(json(unknown)).toMatchObject({ code: 'COFFER_API_ROUTE_NOT_FOUND' });
    const method = await ask({ port: listener.port, path: '/v1/sys/health', method: 'DELETE' });
    expect(method.status).toBe(405);
    expect(method.headers.allow).toBe('GET, HEAD');
    expect(json(method)).toMatchObject({ code: 'COFFER_API_METHOD_NOT_ALLOWED' });
    const body = await ask({
      port: listener.port,
      path: '/v1/sys/seal-status',
      headers: { 'content-type': 'text/plain', 'content-length': String(canaryToken.length) },
      body: canaryToken,
    });
    expect(body.status).toBe(413);
    expect(body.headers.connection).toBe('close');
    expect(json(body)).toMatchObject({ code: 'COFFER_API_REQUEST_TOO_LARGE' });
    const still = await ask({ port: listener.port, path: '/v1/sys/health' });
    expect(still.status).toBe(200);
  });
});

describe('HttpListener TLS reload', () => {
  it('HttpListener.reloadTls serves the new certificate on new connections only', async () => {
    const next = await createTestTls();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = await ask({ port: listener.port, path: '/v1/sys/health', agent });
    expect(before.fingerprint).toBe(fingerprintOf(tls));
    listener.reloadTls(next);
    trusted.set(listener.port, next.certPem);
    const kept = await ask({
      port: listener.port,
      path: '/v1/sys/health',
      agent,
      ca: tls.certPem,
    });
    expect([kept.status, kept.reusedSocket, kept.fingerprint]).toEqual([
      200,
      true,
      fingerprintOf(tls),
    ]);
    const fresh = await ask({ port: listener.port, path: '/v1/sys/health' });
    expect([fresh.status, fresh.fingerprint]).toEqual([200, fingerprintOf(next)]);
    agent.destroy();
  });

  it('HttpListener.reloadTls refuses a mismatched pair and keeps serving the current one', async () => {
    const other = await createTestTls();
    const current = await ask({ port: listener.port, path: '/v1/sys/health' });
    expect(() => {
      listener.reloadTls({ keyPem: other.keyPem, certPem: tls.certPem });
    }).toThrow(expect.objectContaining({ code: 'COFFER_API_TLS_INVALID' }) as Error);
    const after = await ask({ port: listener.port, path: '/v1/sys/health' });
    expect(after.fingerprint).toBe(current.fingerprint);
  });
});

describe('HttpListener on a sealed node', () => {
  it('HttpListener answers 503 once sealed, honours sealedcode, and refuses token scrapes', async () => {
    await testNode.node.seal();
    const health = await ask({ port: listener.port, path: '/v1/sys/health' });
    expect(health.status).toBe(503);
    expect(json(health)).toMatchObject({ initialized: true, sealed: true });
    const custom = await ask({ port: listener.port, path: '/v1/sys/health?sealedcode=299' });
    expect(custom.status).toBe(299);
    const scrape = await ask({
      port: listener.port,
      path: '/v1/sys/metrics',
      headers: { 'x-coffer-token': rootToken },
    });
    expect(scrape.status).toBe(503);
    expect(json(scrape)).toMatchObject({ code: 'COFFER_CORE_SEALED' });
    const open = await ask({ port: openListener.port, path: '/v1/sys/metrics' });
    expect(open.body).toContain('coffer_sealed 1');
  });

  it('HttpListener never returns the canary path or token in an answer or the metrics', async () => {
    const scrape = await ask({ port: openListener.port, path: '/v1/sys/metrics' });
    for (const reply of [...replies, scrape]) {
      const seen = `${JSON.stringify(reply.headers)}\n${reply.body}`;
      expect(seen).not.toContain(canaryPath);
      expect(seen).not.toContain(canaryToken);
      expect(seen).not.toContain(rootToken);
    }
  });
});

describe('HttpListener.close', () => {
  it('HttpListener.close ends with a keep-alive connection open and refuses new ones', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    await ask({ port: openListener.port, path: '/v1/sys/health', agent });
    const port = openListener.port;
    await openListener.close(5_000);
    await expect(ask({ port, path: '/v1/sys/health' })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    agent.destroy();
  });
});
