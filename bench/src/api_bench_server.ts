/**
 * The server side of `npm run bench -w @coffer/api`, one process per server so that the server
 * has a core of its own and the load generator the other:
 *
 *   api_bench_server.ts coffer <dir>   one Coffer node (real LevelDB, fsync, Raft on a single
 *                                      voter, KV v2 at secret/, audit off) behind the gRPC
 *                                      listener; a non-root token with a policy on the bench
 *                                      paths, so the ACL does real matching
 *   api_bench_server.ts echo <dir>     the baseline: a bare grpc-js server with the same
 *                                      service definitions and TLS whose Kv.Get and Kv.Put
 *                                      answer a fixed Response of the same size at once
 *
 * `<dir>/tls.json` holds {certPem, keyPem}. The process prints one JSON line {port, token?}
 * on stdout (the token is a throwaway bench credential of a scratch node, handed to the parent
 * only) and serves until stdin closes.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { GrpcApiServer } from '@coffer/api';
import { loadCofferPackageDefinition } from '@coffer/client';
import {
  CofferNode,
  loneTransport,
  monotonicClock,
  singleVoterConfState,
  type CoreRequest,
  type CoreResponse,
} from '@coffer/core';
import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';

interface Tls {
  readonly certPem: string;
  readonly keyPem: string;
}

const benchPolicy = `path "secret/data/bench/*" { capabilities = ["create", "read", "update"] }`;

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function isLeader(node: CofferNode): boolean {
  return node.raftNode?.raw.status().softState.role === 'leader';
}

async function must(node: CofferNode, request: CoreRequest): Promise<CoreResponse & { ok: true }> {
  const response = await node.handle(request);
  if (!response.ok) {
    throw new Error(`${request.operation} ${request.path}: ${response.code} ${response.message}`);
  }
  return response;
}

async function openBenchNode(dir: string): Promise<{ node: CofferNode; token: string }> {
  const node = await CofferNode.open({
    dataDir: join(dir, 'node'),
    id: 1,
    confState: singleVoterConfState(1),
    transport: loneTransport,
    clock: monotonicClock,
    randomInt: (n) => randomInt(n),
    wallClockMs: () => Date.now(),
    seal: { type: 'shamir' },
  });
  await until(() => isLeader(node));
  const init = await must(node, {
    operation: 'update',
    path: 'sys/init',
    data: { secret_shares: 1, secret_threshold: 1 },
  });
  const [share] = init.data?.['keys'] as string[];
  const root = init.data?.['root_token'] as string;
  await node.seal();
  await must(node, { operation: 'update', path: 'sys/unseal', data: { key: share } });
  await until(() => isLeader(node));
  const admin = { token: root, operation: 'update' } as const;
  await must(node, { ...admin, path: 'sys/mounts/secret', data: { type: 'kv' } });
  await must(node, { ...admin, path: 'sys/policies/acl/bench', data: { policy: benchPolicy } });
  const created = await must(node, {
    ...admin,
    path: 'auth/token/create',
    data: { policies: ['bench'], ttl: '2h' },
  });
  const token = created.auth?.clientToken;
  if (token === undefined) {
    throw new Error('token create gave no token');
  }
  return { node, token };
}

async function serveCoffer(dir: string, tls: Tls): Promise<() => Promise<void>> {
  const { node, token } = await openBenchNode(dir);
  const server = await GrpcApiServer.start({ handler: node, host: '127.0.0.1', port: 0, tls });
  process.stdout.write(`${JSON.stringify({ port: server.port, token })}\n`);
  return async () => {
    await server.shutdown(1000);
    await node.close();
  };
}

/** The fixed answer of the echo server: a KV v2 read's shape and size. */
function echoResponse(): Record<string, unknown> {
  const data = {
    data: { value: 'v'.repeat(128) },
    metadata: {
      created_time: new Date().toISOString(),
      custom_metadata: null,
      deletion_time: '',
      destroyed: false,
      version: 1,
    },
  };
  return { request_id: '8a6c1c1e-5d0c-4a44-9d59-1f7c5d1f7b3e', data_json: JSON.stringify(data) };
}

async function serveEcho(tls: Tls): Promise<() => Promise<void>> {
  const definition = loadCofferPackageDefinition();
  const kv = definition['coffer.v1.Kv'] as ServiceDefinition;
  const server = new Server();
  const answer = echoResponse();
  const reply = (_call: unknown, callback: (error: null, value: unknown) => void): void => {
    callback(null, answer);
  };
  const implementation: UntypedServiceImplementation = { Get: reply, Put: reply };
  server.addService(kv, implementation);
  const credentials = ServerCredentials.createSsl(
    null,
    [{ private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certPem) }],
    false,
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', credentials, (error, bound) => {
      if (error === null) {
        resolve(bound);
      } else {
        reject(error);
      }
    });
  });
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  return () =>
    new Promise((resolve) => {
      server.tryShutdown(() => {
        resolve();
      });
    });
}

async function main(): Promise<void> {
  const [mode, dir] = process.argv.slice(2);
  if (dir === undefined || (mode !== 'coffer' && mode !== 'echo')) {
    throw new Error('usage: api_bench_server.ts coffer|echo <dir>');
  }
  const tls = JSON.parse(readFileSync(join(dir, 'tls.json'), 'utf8')) as Tls;
  const stop = mode === 'coffer' ? await serveCoffer(dir, tls) : await serveEcho(tls);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void stop().then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`api_bench_server: ${error instanceof Error ? error.message : 'failed'}\n`);
  process.exit(1);
});
