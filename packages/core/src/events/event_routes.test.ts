/**
 * Goal: `sys/events` is a router path like any other: a token needs `read` on it (no sudo), a
 * token without it, a revoked one and none are refused alike, a sealed node refuses it, and
 * the journal it reads lives across seal and unseal, so a client resumes from its last index
 * and gets the seal, the unseal and the leader changes between, in order; a revoked token's
 * lease is journaled by its lease id, which holds no token; a cursor of another epoch is
 * refused with COFFER_CORE_EVENTS_INDEX_EXPIRED; a poll waits at most the route's cap and
 * never past its token's expiry.
 * Method: a real single-voter CofferNode on LevelDB driven on a ManualClock
 * (request_test_support.ts), requests through CofferNode.handle; the wait cap on the route
 * alone, with a ManualClock whose timers the test fires.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ManualClock } from '@coffer/raft/testing';

import { CoreErrorCode } from '../errors.ts';
import { closeOpenedNodes, drive, removeRoot } from '../lifecycle/lifecycle_harness.ts';
import { openRequestFixture, type RequestFixture } from '../lifecycle/request_test_support.ts';
import { MemoryStorageView } from '../router/memory_storage_view.ts';
import type { BackendRequest } from '../router/backend.ts';
import type { CoreResponse } from '../router/request.ts';
import { EventJournal } from './event_journal.ts';
import { eventRoutes } from './event_routes.ts';

let f: RequestFixture;

beforeAll(async () => {
  f = await openRequestFixture();
});

afterAll(async () => {
  await closeOpenedNodes();
  await removeRoot(f.harness.root);
});

/** A token with `policies` created by the root token. */
async function tokenWith(policies: readonly string[]): Promise<string> {
  const created = await f.ok({
    operation: 'update',
    path: 'auth/token/create',
    token: f.rootToken,
    data: { policies, ttl: '1h' },
  });
  const id = created.auth?.clientToken;
  if (id === undefined) {
    throw new Error('no token');
  }
  return id;
}

function events(response: CoreResponse): readonly Record<string, unknown>[] {
  if (!response.ok) {
    throw new Error(`${response.code}: ${response.message}`);
  }
  return response.data?.['events'] as Record<string, unknown>[];
}

function readEvents(token: string | undefined, data: Record<string, unknown> = {}) {
  return f.call({
    operation: 'read',
    path: 'sys/events',
    ...(token === undefined ? {} : { token }),
    data,
  });
}

describe('sys/events on a real node', () => {
  it('answers a token with read on sys/events and refuses the others alike', async () => {
    await f.ok({
      operation: 'update',
      path: 'sys/policies/acl/events',
      token: f.rootToken,
      data: { policy: 'path "sys/events" { capabilities = ["read"] }' },
    });
    const reader = await tokenWith(['events']);
    const other = await tokenWith(['default']);
    const answer = await readEvents(reader);
    expect(events(answer)).toEqual([]);
    expect(answer.ok && typeof answer.data?.['epoch'] === 'string').toBe(true);
    expect(answer.ok && typeof answer.data?.['after'] === 'number').toBe(true);
    await f.ok({
      operation: 'update',
      path: 'auth/token/revoke',
      token: f.rootToken,
      data: { token: reader },
    });
    for (const token of [other, reader, undefined]) {
      expect(await readEvents(token)).toMatchObject({
        ok: false,
        code: CoreErrorCode.permissionDenied,
      });
    }
  });

  it('journals a revoked token lease by its lease id, never the token', async () => {
    const start = (await f.ok({ operation: 'read', path: 'sys/events', token: f.rootToken }))
      .data?.['after'] as number;
    const token = await tokenWith(['default']);
    await f.ok({
      operation: 'update',
      path: 'auth/token/revoke',
      token: f.rootToken,
      data: { token },
    });
    const after = events(await readEvents(f.rootToken, { after: start }));
    expect(after).toEqual([expect.objectContaining({ index: start + 1, type: 'lease_revoked' })]);
    expect(String(after[0]?.['lease_id'])).toMatch(/^auth\/token\/create\//);
    expect(JSON.stringify(after)).not.toContain(token);
  });

  it('refuses while sealed, and resumes after unseal with the seal, unseal and leader events', async () => {
    const before = await f.ok({ operation: 'read', path: 'sys/events', token: f.rootToken });
    const epoch = before.data?.['epoch'] as string;
    const last = before.data?.['after'] as number;
    await drive(f.harness, f.node.seal());
    expect(await readEvents(f.rootToken, { after: last })).toMatchObject({
      ok: false,
      code: CoreErrorCode.sealed,
    });
    for (const share of f.shares.slice(0, 2)) {
      await drive(f.harness, f.node.submitUnsealShare(share));
    }
    const resumed: Record<string, unknown>[] = [];
    for (let poll = 0; poll < 20 && !resumed.some((e) => e['type'] === 'leader_change'); poll++) {
      const after = (resumed.at(-1)?.['index'] as number | undefined) ?? last;
      resumed.push(...events(await readEvents(f.rootToken, { after, epoch, wait_ms: 100 })));
    }
    expect(resumed.map((event) => event['index'])).toEqual(resumed.map((_, i) => last + 1 + i));
    expect(resumed.map((event) => event['type'])).toEqual(['sealed', 'unsealed', 'leader_change']);
    expect(resumed.at(-1)).toMatchObject({ leader_id: 1, term: 2 });
  });

  it('refuses a cursor of another epoch with COFFER_CORE_EVENTS_INDEX_EXPIRED', async () => {
    expect(await readEvents(f.rootToken, { after: 1, epoch: 'another-node' })).toMatchObject({
      ok: false,
      code: CoreErrorCode.eventsIndexExpired,
    });
    expect(await readEvents(f.rootToken, { after: 1_000_000 })).toMatchObject({
      ok: false,
      code: CoreErrorCode.eventsIndexExpired,
    });
  });
});

describe('the sys/events route', () => {
  it('caps the wait of a poll at waitMsMax and the token expiry, and answers the event that ends it early', async () => {
    const clock = new ManualClock();
    const journal = new EventJournal({ epoch: 'e', clock, wallClockMs: () => 0 });
    const [route] = eventRoutes({ journal, waitMsMax: 500 });
    const read = route?.operations.read;
    if (read === undefined) {
      throw new Error('no read handler');
    }
    const request = (
      fields: Record<string, unknown>,
      caller?: BackendRequest['caller'],
    ): BackendRequest => ({
      operation: 'read',
      path: 'events',
      params: {},
      fields,
      data: {},
      storage: new MemoryStorageView(),
      mount: {
        path: 'sys/',
        type: 'system',
        uuid: 'u',
        accessor: 'a',
        defaultLeaseTtlSeconds: 0,
        maxLeaseTtlSeconds: 0,
        options: {},
      },
      caller,
      clientAddress: undefined,
      requestId: 'r',
      nowMs: 0,
    });
    let answered = false;
    const capped = read(request({ wait_ms: 1_000_000_000 })).then((answer) => {
      answered = true;
      return answer;
    });
    clock.advance(499);
    await Promise.resolve();
    expect(answered).toBe(false);
    clock.advance(1);
    expect((await capped).data).toMatchObject({ events: [], after: 0, last_index: 0 });
    const woken = read(request({ after: 0, wait_ms: 400 }));
    journal.append({ type: 'unsealed' });
    expect((await woken).data?.['events']).toEqual([
      { index: 1, type: 'unsealed', time: '1970-01-01T00:00:00.000Z' },
    ]);
    // A token that expires in 200 ms: the poll ends then, and the next one is refused.
    let ended = false;
    const expiring = read(
      request(
        { after: 1, wait_ms: 400 },
        { accessor: 'a', policies: [], displayName: 't', metadata: {}, root: false, expireMs: 200 },
      ),
    ).then((answer) => {
      ended = true;
      return answer;
    });
    clock.advance(199);
    await Promise.resolve();
    expect(ended).toBe(false);
    clock.advance(1);
    expect((await expiring).data).toMatchObject({ events: [], after: 1 });
  });
});
