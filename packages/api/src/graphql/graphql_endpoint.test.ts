/**
 * Goal: the GraphQL endpoint on a real node over real TLS gives a token exactly what the router
 * gives it (issue 10 items 1, 2, 3, 5, 6): an operator reads and changes the node through
 * Query and Mutation; a limited policy gets data inside it and PERMISSION_DENIED outside; an
 * expired token is refused on every field that needs a token; a sealed node answers only
 * sealStatus, health and unseal, and is unsealed through GraphQL; deep, wide, aliased,
 * exponential, oversized and malformed documents, introspection and cross-site requests are
 * refused with a stable code while the server keeps serving; no answer holds a canary secret,
 * a canary token, the root token, an unseal share or a stack trace.
 * Method: a real single-voter CofferNode on LevelDB (testing/test_node.ts) whose wall clock the
 * test moves forward (no sleeps) behind an HttpListener on 127.0.0.1 with GraphQL on, driven by
 * GraphqlTestClient (node:https trusting the listener's self-signed certificate). The tests run
 * in order over one node's life; every answer body is kept for the final canary scan.
 */
import { request } from 'node:https';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TlsMaterial } from '@coffer/core';

import { buildSchema } from './graphql_module.ts';
import { HttpListener } from '../http/http_listener.ts';
import { ApiMetrics } from '../metrics/api_metrics.ts';
import { fieldsDocument } from '../testing/graphql_documents.ts';
import {
  errorCodeAt,
  GraphqlTestClient,
  type GraphqlReply,
} from '../testing/graphql_test_client.ts';
import { openGraphqlServer, type GraphqlServer } from '../testing/graphql_server.ts';
import type { TestInit, TestNode } from '../testing/test_node.ts';
import { graphqlSettingsDefault } from './graphql_endpoint.ts';
import { schemaSdl } from './schema_sdl.ts';

const schema = buildSchema(schemaSdl);
const canarySecret = 'canary-secret-7c1e5b20';
const canaryToken = 'hvs.canary-token-4be99d13';
const canaryVariable = 'canary-variable-0a8f6e';
const hourMs = 60 * 60 * 1000;

let server: GraphqlServer;
let testNode: TestNode;
let tls: TlsMaterial;
let metrics: ApiMetrics;
let listener: HttpListener;
let client: GraphqlTestClient;
let init: TestInit;
let wallOffsetMs = 0;

const limitedPolicy = `
path "sys/policies/acl" { capabilities = ["list"] }
path "sys/policies/acl/*" { capabilities = ["read"] }
`;

beforeAll(async () => {
  server = await openGraphqlServer({
    wallClockMs: () => Date.now() + wallOffsetMs,
    graphql: graphqlSettingsDefault,
    canarySecret,
  });
  ({ testNode, tls, metrics, listener, client, init } = server);
});

afterAll(async () => {
  await server.close();
});

/** Sends `query` as the root token and fails the test on any error. */
async function asRoot(query: string, variables?: Record<string, unknown>): Promise<GraphqlReply> {
  const reply = await client.send({
    query,
    token: init.rootToken,
    ...(variables === undefined ? {} : { variables }),
  });
  expect(reply.errors, reply.body).toEqual([]);
  expect(reply.status).toBe(200);
  return reply;
}

/** The codes of a reply's errors by top-level field. */
function codesByField(reply: GraphqlReply): Record<string, string | undefined> {
  return Object.fromEntries(
    reply.errors.map((error) => [String(error.path?.[0]), error.extensions?.code]),
  );
}

/** A token with `policies` and `ttl`, created through GraphQL; returns id and accessor. */
async function createToken(
  policies: readonly string[],
  ttl: string,
): Promise<{ readonly id: string; readonly accessor: string }> {
  const reply = await asRoot(
    'mutation($input: TokenCreateInput!) { createToken(input: $input) { clientToken accessor policies ttlSeconds } }',
    { input: { policies, ttl } },
  );
  const created = reply.data?.['createToken'] as { clientToken: string; accessor: string };
  return { id: created.clientToken, accessor: created.accessor };
}

describe('GraphQL on a real node', () => {
  it('Query answers the seal state, cluster, mounts, policies, keyring and metrics', async () => {
    const reply = await asRoot(`{
      sealStatus { initialized sealed sealType threshold shares progress }
      health { sealed standby }
      cluster { leader healthy failureTolerance members { id voter status lastTerm lastIndex healthy lastContactMs } }
      secretsEngines { path type options { key value } }
      authMethods { path type }
      policies
      keyring { term generation terms { term } }
      metrics { sealed active raftTerm }
      auditDevices { path }
    }`);
    const data = reply.data ?? {};
    expect(data['sealStatus']).toMatchObject({
      initialized: true,
      sealed: false,
      threshold: 2,
      shares: 3,
    });
    expect(data['health']).toEqual({ sealed: false, standby: false });
    expect(data['cluster']).toMatchObject({ leader: '1', healthy: true, failureTolerance: 0 });
    expect((data['cluster'] as { members: unknown[] }).members).toEqual([
      expect.objectContaining({ id: '1', voter: true, status: 'leader', healthy: true }),
    ]);
    expect(data['secretsEngines']).toContainEqual({
      path: 'secret/',
      type: 'kv',
      options: [{ key: 'version', value: '2' }],
    });
    expect(data['authMethods']).toContainEqual({ path: 'token/', type: 'token' });
    expect(data['policies']).toContain('default');
    expect(data['keyring']).toMatchObject({ term: 1 });
    expect(data['metrics']).toMatchObject({ sealed: false, active: true });
    expect(data['auditDevices']).toEqual([]);
  });

  it('Mutation writes policies, tunes mounts, rotates the keyring and manages tokens', async () => {
    await asRoot(
      'mutation($text: String!) { writePolicy(name: "limited", text: $text) { warnings } }',
      {
        text: limitedPolicy,
      },
    );
    const read = await asRoot('{ policy(name: "limited") { name text } }');
    expect(read.data?.['policy']).toEqual({ name: 'limited', text: limitedPolicy });
    await asRoot(`mutation {
      enableSecretsEngine(path: "kv-extra", input: {type: "kv", options: [{key: "version", value: "2"}]}) { warnings }
      tuneSecretsEngine(path: "kv-extra", input: {maxLeaseTtl: "2h"}) { warnings }
      enableAuthMethod(path: "approle", input: {type: "approle"}) { warnings }
    }`);
    const mounts = await asRoot(
      '{ secretsEngines { path maxLeaseTtlSeconds } authMethods { path } }',
    );
    expect(mounts.data?.['secretsEngines']).toContainEqual({
      path: 'kv-extra/',
      maxLeaseTtlSeconds: 7200,
    });
    expect(mounts.data?.['authMethods']).toContainEqual({ path: 'approle/' });
    await asRoot(
      'mutation { disableSecretsEngine(path: "kv-extra") { warnings } disableAuthMethod(path: "approle") { warnings } }',
    );
    const rotated = await asRoot('mutation { rotateKeyring { term terms { term } } }');
    expect(rotated.data?.['rotateKeyring']).toMatchObject({ term: 2 });
    const token = await createToken(['limited'], '1h');
    const lookup = await client.send({
      query:
        'query($a: String!) { tokenByAccessor(accessor: $a) { accessor policies ttlSeconds orphan } }',
      variables: { a: token.accessor },
      token: init.rootToken,
      tokenHeader: 'x-coffer',
    });
    expect(lookup.data?.['tokenByAccessor']).toMatchObject({
      accessor: token.accessor,
      orphan: false,
    });
    await asRoot('mutation($a: String!) { revokeTokenByAccessor(accessor: $a) { warnings } }', {
      a: token.accessor,
    });
    const gone = await client.send({ query: '{ policies }', token: token.id });
    expect(errorCodeAt(gone, 'policies')).toBe('COFFER_CORE_PERMISSION_DENIED');
  });

  it('a mutation names no request id, so it records no request outcome (no caller could resend it)', async () => {
    // NB: core's outcomesPrefix (request_outcomes.ts); a write that names an id stores one there.
    const outcomes = async (): Promise<readonly string[]> => {
      await testNode.node.secureStore.readPoint();
      return (await testNode.node.secureStore.listLocal('core/request-outcomes/', { limit: 100 }))
        .keys;
    };
    const before = await outcomes();
    await createToken(['default'], '1h');
    expect(await outcomes()).toEqual(before);
  });

  it('Mutation and Query manage audit devices and leases through their router paths', async () => {
    const filePath = join(testNode.dir, 'audit.log');
    await asRoot(
      'mutation($p: String!) { enableAuditDevice(path: "file", type: "file", options: [{key: "file_path", value: $p}]) { warnings } }',
      { p: filePath },
    );
    const devices = await asRoot('{ auditDevices { path type options { key value } } }');
    expect(devices.data?.['auditDevices']).toEqual([
      expect.objectContaining({ path: 'file/', type: 'file' }),
    ]);
    await asRoot('mutation { disableAuditDevice(path: "file") { warnings } }');
    const leases = await asRoot(
      '{ leases(prefix: "secret/") { truncated keys { key leaseId lease { expireTime ttlSeconds } } } }',
    );
    expect(leases.data?.['leases']).toEqual({ truncated: false, keys: [] });
    const missing = await client.send({
      query:
        'mutation { renewLease(leaseId: "secret/none/1") { leaseId } revokeLease(leaseId: "secret/none/1") { warnings } }',
      token: init.rootToken,
    });
    expect(codesByField(missing)['renewLease']).toMatch(/^COFFER_CORE_/);
  });

  it('a limited policy gets data inside its paths and PERMISSION_DENIED outside', async () => {
    const token = await createToken(['limited'], '1h');
    const reply = await client.send({
      query:
        '{ policies policy(name: "limited") { text } secretsEngines { path } keyring { term } auditDevices { path } cluster { leader } metrics { sealed } }',
      token: token.id,
    });
    expect(reply.data?.['policies']).toContain('limited');
    expect(reply.data?.['policy']).toEqual({ text: limitedPolicy });
    expect(codesByField(reply)).toEqual({
      secretsEngines: 'COFFER_CORE_PERMISSION_DENIED',
      keyring: 'COFFER_CORE_PERMISSION_DENIED',
      auditDevices: 'COFFER_CORE_PERMISSION_DENIED',
      cluster: 'COFFER_CORE_PERMISSION_DENIED',
      metrics: 'COFFER_CORE_PERMISSION_DENIED',
    });
    const writes = await client.send({
      query:
        'mutation { writePolicy(name: "mine", text: "path \\"x\\" {}") { warnings } deletePolicy(name: "limited") { warnings } stepDown { warnings } }',
      token: token.id,
    });
    expect(codesByField(writes)).toEqual({
      writePolicy: 'COFFER_CORE_PERMISSION_DENIED',
      deletePolicy: 'COFFER_CORE_PERMISSION_DENIED',
      stepDown: 'COFFER_CORE_PERMISSION_DENIED',
    });
    expect((await asRoot('{ policies }')).data?.['policies']).toContain('limited');
  });

  it('answers a header value that cannot be a token as any bad token, not a second error', async () => {
    for (const token of [`cfr.${'x'.repeat(600)}`, 'cfr.bogus']) {
      const answer = await client.send({ query: '{ policies }', token });
      expect(codesByField(answer), token.slice(0, 12)).toEqual({
        policies: 'COFFER_CORE_PERMISSION_DENIED',
      });
    }
  });

  it('an expired token is refused on every field that needs a token', async () => {
    const token = await createToken(['limited'], '1h');
    expect((await client.send({ query: '{ policies }', token: token.id })).errors).toEqual([]);
    wallOffsetMs += 2 * hourMs;
    const queries = fieldsDocument(schema, 'query');
    const read = await client.send({ ...queries, token: token.id });
    const readCodes = codesByField(read);
    for (const field of Object.keys(schema.getQueryType()?.getFields() ?? {})) {
      const tokenless = field === 'sealStatus' || field === 'health';
      expect(readCodes[field], field).toBe(tokenless ? undefined : 'COFFER_CORE_PERMISSION_DENIED');
    }
    const mutationFields = Object.keys(schema.getMutationType()?.getFields() ?? {}).filter(
      (field) => field !== 'unseal',
    );
    const write = await client.send({
      ...fieldsDocument(schema, 'mutation', mutationFields),
      token: token.id,
    });
    const writeCodes = codesByField(write);
    for (const field of mutationFields) {
      expect(writeCodes[field], field).toBe('COFFER_CORE_PERMISSION_DENIED');
    }
    expect(testNode.node.status().sealed).toBe(false);
  });

  it('a sealed node answers only sealStatus, health and unseal, and unseals through GraphQL', async () => {
    await asRoot('mutation { seal { warnings } }');
    expect(testNode.node.status().sealed).toBe(true);
    const read = await client.send({ ...fieldsDocument(schema, 'query'), token: init.rootToken });
    for (const field of Object.keys(schema.getQueryType()?.getFields() ?? {})) {
      const open = field === 'sealStatus' || field === 'health';
      expect(codesByField(read)[field], field).toBe(open ? undefined : 'COFFER_CORE_SEALED');
    }
    const mutationFields = Object.keys(schema.getMutationType()?.getFields() ?? {}).filter(
      (field) => field !== 'unseal',
    );
    const write = await client.send({
      ...fieldsDocument(schema, 'mutation', mutationFields),
      token: init.rootToken,
    });
    for (const field of mutationFields) {
      expect(codesByField(write)[field], field).toBe('COFFER_CORE_SEALED');
    }
    const unsealQuery =
      'mutation($key: String!) { unseal(key: $key) { sealed progress threshold } }';
    const first = await client.send({ query: unsealQuery, variables: { key: init.shares[0] } });
    expect(first.data?.['unseal']).toEqual({ sealed: true, progress: 1, threshold: 2 });
    const last = await client.send({ query: unsealQuery, variables: { key: init.shares[1] } });
    expect(last.data?.['unseal']).toMatchObject({ sealed: false });
    await testNode.unseal([]);
    expect((await asRoot('{ sealStatus { sealed } }')).data?.['sealStatus']).toEqual({
      sealed: false,
    });
  });
});

/** The one error of a refused document and its HTTP status. */
async function refusal(ask: Parameters<GraphqlTestClient['send']>[0]): Promise<{
  readonly status: number;
  readonly codes: readonly (string | undefined)[];
}> {
  const reply = await client.send({ token: init.rootToken, ...ask });
  expect(reply.data ?? null).toBeNull();
  return { status: reply.status, codes: reply.errors.map((error) => error.extensions?.code) };
}

/** Fails unless the node still answers a plain query. */
async function stillServing(): Promise<void> {
  const reply = await asRoot('{ sealStatus { sealed } }');
  expect(reply.data?.['sealStatus']).toEqual({ sealed: false });
}

/** POSTs `body` chunked (no content-length); errors after the answer (EPIPE) are ignored. */
function chunkedPost(body: Buffer): Promise<{ readonly status: number; readonly body: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const sending = request(
      {
        host: '127.0.0.1',
        port: listener.port,
        path: '/graphql',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        ca: tls.certPem,
        agent: false,
      },
      (incoming) => {
        answered = true;
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          client.bodies.push(text);
          resolve({ status: incoming.statusCode ?? 0, body: text });
        });
      },
    );
    sending.on('error', (error) => {
      if (!answered) {
        reject(error);
      }
    });
    sending.end(body);
  });
}

function aliases(count: number, field = 'health { sealed }'): string {
  return `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
}

describe('GraphQL abuse is refused before execution', () => {
  it('refuses a selection 50 deep, a wide selection and a fragment bomb as too complex', async () => {
    const deep = `{ ${'a { '.repeat(50)}b${' }'.repeat(50)} }`;
    const depth = await refusal({ query: deep });
    expect(depth.codes).toContain('COFFER_API_QUERY_TOO_COMPLEX');
    expect(depth.status).toBe(400);
    const wide = `{ ${'cluster { members { id address apiAddress status voter } } '.repeat(60)} }`;
    expect((await refusal({ query: wide })).codes).toContain('COFFER_API_QUERY_TOO_COMPLEX');
    const fragments = Array.from(
      { length: 30 },
      (_, i) => `fragment F${i + 1} on NodeStatus { ...F${i} ...F${i} }`,
    ).join(' ');
    const bomb = `{ health { ...F30 } } fragment F0 on NodeStatus { sealed } ${fragments}`;
    expect((await refusal({ query: bomb })).codes).toContain('COFFER_API_QUERY_TOO_COMPLEX');
    await stillServing();
  });

  it('refuses alias batches: 60 over the alias limit, 1000 over the token limit, 10k over the body limit', async () => {
    expect((await refusal({ query: aliases(60) })).codes).toEqual(['COFFER_API_QUERY_TOO_COMPLEX']);
    expect((await refusal({ query: aliases(1000) })).codes).toEqual([
      'COFFER_API_QUERY_TOO_COMPLEX',
    ]);
    const huge = await refusal({ query: aliases(10_000) });
    expect(huge).toEqual({ status: 413, codes: ['COFFER_API_REQUEST_TOO_LARGE'] });
    await stillServing();
  });

  it('refuses a chunked body over graphql.request_bytes_max after reading only the limit', async () => {
    const reply = await chunkedPost(
      Buffer.alloc(graphqlSettingsDefault.requestBytesMax + 4096, 32),
    );
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toEqual({
      errors: [
        {
          message: `Send at most ${graphqlSettingsDefault.requestBytesMax} bytes of GraphQL request body`,
          extensions: { code: 'COFFER_API_REQUEST_TOO_LARGE' },
        },
      ],
    });
    await stillServing();
  });

  it('refuses malformed documents and bodies with COFFER_API_INVALID_REQUEST', async () => {
    for (const query of ['{ sealStatus { ', '{ noSuchField }', 'mutation { seal }', '}{']) {
      const refused = await refusal({ query });
      expect(refused.codes.length, query).toBeGreaterThan(0);
      expect(new Set(refused.codes), query).toEqual(new Set(['COFFER_API_INVALID_REQUEST']));
    }
    for (const rawBody of ['{', '[]', '{"query": 5}', '"x"', '']) {
      const reply = await client.send({ rawBody, token: init.rootToken });
      expect(reply.status, rawBody).toBeGreaterThanOrEqual(400);
      expect(
        reply.errors.map((error) => error.extensions?.code),
        rawBody,
      ).toContain('COFFER_API_INVALID_REQUEST');
    }
    await stillServing();
  });

  it('refuses introspection unless configured, and cross-site shaped requests', async () => {
    const introspection = await refusal({ query: '{ __schema { types { name } } }' });
    expect(new Set(introspection.codes)).toEqual(new Set(['COFFER_API_INVALID_REQUEST']));
    const open = await HttpListener.start({
      handler: testNode.node,
      host: '127.0.0.1',
      port: 0,
      tls,
      metrics,
      metricsUnauthenticated: false,
      graphql: { ...graphqlSettingsDefault, introspection: true },
    });
    try {
      const reply = await new GraphqlTestClient(open.port, tls.certPem).send({
        query: '{ __schema { queryType { name } } }',
      });
      expect(reply.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    } finally {
      await open.close(1000);
    }
    for (const contentType of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
    ]) {
      const reply = await client.send({
        query: '{ policies }',
        token: init.rootToken,
        contentType,
      });
      expect(reply.status, contentType).toBe(415);
      expect(reply.errors.map((error) => error.extensions?.code)).toEqual([
        'COFFER_API_INVALID_REQUEST',
      ]);
    }
    const get = await client.send({ method: 'GET', token: init.rootToken });
    expect(get.status).toBe(405);
    await stillServing();
  });

  it('refuses the fields past graphql.router_requests_max and answers the ones before', async () => {
    const tight = await HttpListener.start({
      handler: testNode.node,
      host: '127.0.0.1',
      port: 0,
      tls,
      metrics,
      metricsUnauthenticated: false,
      graphql: { ...graphqlSettingsDefault, routerRequestsMax: 2 },
    });
    try {
      const reply = await new GraphqlTestClient(tight.port, tls.certPem).send({
        query: '{ a: policies b: policies c: policies }',
        token: init.rootToken,
      });
      expect(
        Object.keys(reply.data ?? {}).filter((key) => reply.data?.[key] !== null),
      ).toHaveLength(2);
      expect(reply.errors.map((error) => error.extensions?.code)).toEqual([
        'COFFER_API_QUERY_TOO_COMPLEX',
      ]);
    } finally {
      await tight.close(1000);
    }
  });

  it('masks errors: no value the caller sent comes back in a refusal', async () => {
    const echoes = [
      { query: `{ sealStatus "${canaryVariable}" }` },
      { query: `mutation { promotePeer(serverId: "${canaryVariable}") { warnings } }` },
      {
        query: 'mutation($id: Int!) { promotePeer(serverId: $id) { warnings } }',
        variables: { id: canaryVariable },
      },
      {
        query: 'query($input: TokenCreateInput!) { policies }',
        variables: { input: { ttl: 5, x: canaryVariable } },
      },
      { query: '{ policies }', token: canaryToken },
      { query: '{ policies }', token: canaryToken.repeat(30) },
    ];
    for (const ask of echoes) {
      const reply = await client.send({ token: init.rootToken, ...ask });
      expect(reply.errors.length, ask.query).toBeGreaterThan(0);
      expect(reply.body, ask.query).not.toContain('canary');
    }
  });
});

describe('the canary scan', () => {
  it('no answer of this file holds a canary, the root token, a share or a stack trace', () => {
    expect(client.bodies.length).toBeGreaterThan(30);
    const forbidden = [canarySecret, canaryToken, canaryVariable, init.rootToken, ...init.shares];
    for (const body of client.bodies) {
      for (const secret of forbidden) {
        expect(body.includes(secret)).toBe(false);
      }
      expect(body).not.toMatch(/"stack"|node_modules|\.ts:\d|originalError/);
    }
  });
});
