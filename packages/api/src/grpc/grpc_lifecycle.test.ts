/**
 * Goal: a node's whole lifecycle works over gRPC alone: SealStatus of a fresh node says
 * uninitialized; System.Init with 5 shares and threshold 3 answers the shares and a root token
 * once (a second Init is refused); Seal with the root token seals; Unseal takes 3 of the 5
 * shares in any order, its progress counting up; the unsealed node serves KV again. A sealed
 * node's refusals carry the sealed code in the trailers.
 * Method: a real single-voter CofferNode (never initialized) behind a real GrpcApiServer over
 * TLS on 127.0.0.1 port 0, driven by a raw grpc-js client. Waits are on call answers.
 */
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { GrpcTestClient, type CallAnswer, type CallRefusal } from '../testing/grpc_test_client.ts';
import { createTestTls, openTestNode, type TestNode } from '../testing/test_node.ts';
import { GrpcApiServer } from './grpc_api_server.ts';

let testNode: TestNode;
let server: GrpcApiServer;
let client: GrpcTestClient;

function answered(result: CallAnswer | CallRefusal): CallAnswer {
  if (!result.ok) {
    throw new Error(`call refused: ${result.status} ${result.errorCode ?? ''} ${result.details}`);
  }
  return result;
}

beforeAll(async () => {
  testNode = await openTestNode();
  const tls = await createTestTls();
  server = await GrpcApiServer.start({ handler: testNode.node, host: '127.0.0.1', port: 0, tls });
  client = new GrpcTestClient(server.port, tls.certPem);
}, 60_000);

afterAll(async () => {
  client.close();
  await server.shutdown(1000);
  await testNode.close();
});

/**
 * Polls SealStatus until the node is active: after the last share Raft starts and elects, and
 * until then the node answers COFFER_CORE_NOT_ACTIVE. Fails after 20 s.
 */
async function activeStatus(): Promise<Readonly<Record<string, unknown>>> {
  const started = performance.now();
  for (;;) {
    const { data } = answered(await client.call('/coffer.v1.System/SealStatus', {}));
    if (data['sealed'] === false && data['standby'] === false) {
      return data;
    }
    if (performance.now() - started > 20_000) {
      throw new Error('The node did not become active');
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('GrpcApiServer lifecycle', () => {
  it('inits with 5 shares (sealed after), unseals with 3 in any order and serves KV', async () => {
    const before = answered(await client.call('/coffer.v1.System/SealStatus', {}));
    expect(before.data['initialized']).toBe(false);
    const init = answered(
      await client.call('/coffer.v1.System/Init', { secret_shares: 5, secret_threshold: 3 }),
    );
    const keys = init.data['keys'] as string[];
    const rootToken = init.data['root_token'] as string;
    expect(keys).toHaveLength(5);
    const again = await client.call('/coffer.v1.System/Init', {});
    expect(again).toMatchObject({ ok: false, errorCode: 'COFFER_CORE_ALREADY_INITIALIZED' });

    // As in Vault, a Shamir node is sealed after init: the new shares unseal it.
    const afterInit = answered(await client.call('/coffer.v1.System/SealStatus', {}));
    expect(afterInit.data).toMatchObject({ initialized: true, sealed: true, t: 3, n: 5 });
    const sealedRead = await client.call('/coffer.v1.Kv/Get', { path: 'x' }, { token: rootToken });
    expect(sealedRead).toMatchObject({
      ok: false,
      status: status.UNAVAILABLE,
      errorCode: 'COFFER_CORE_SEALED',
    });

    const progress: unknown[] = [];
    for (const key of [keys[4], keys[0], keys[2]]) {
      const step = answered(await client.call('/coffer.v1.System/Unseal', { key }));
      progress.push(step.data['progress']);
    }
    expect(progress.slice(0, 2)).toEqual([1, 2]);
    const after = await activeStatus();
    expect(after).toMatchObject({ initialized: true, sealed: false, standby: false });

    answered(
      await client.call(
        '/coffer.v1.Mounts/EnableSecrets',
        { path: 'secret', type: 'kv', options: { version: '2' } },
        { token: rootToken },
      ),
    );
    answered(
      await client.call(
        '/coffer.v1.Kv/Put',
        { path: 'app', data_json: '{"k":"v"}' },
        { token: rootToken },
      ),
    );
    const got = answered(
      await client.call('/coffer.v1.Kv/Get', { path: 'app' }, { token: rootToken }),
    );
    expect(got.data['data']).toEqual({ k: 'v' });
  });
});
