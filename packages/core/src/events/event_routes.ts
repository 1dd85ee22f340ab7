/**
 * `sys/events`: a read that answers this node's cluster events after an index (the journal of
 * event_journal.ts), waiting up to `wait_ms` for one when none is held yet: the long poll a
 * GraphQL subscription (or any client, through the generic Logical.Read) makes, one router
 * request per poll, so each poll is authenticated, authorized and audited like any read.
 *
 * Policy: `read` on `sys/events`, no sudo (Vault asks `read` on
 * `sys/events/subscribe/<event type>`; its `subscribe` capability on the path an event is about
 * has no counterpart: these events are about the cluster and hold ids and flags, no secret).
 * The sealed gate refuses it while the node is sealed (no token can be checked then), so a
 * subscription ends there.
 *
 * NB: the wait is capped by `waitMsMax` and by the token's expiry: the poll after it is refused
 * by the router, so a subscription closes when its token expires, and within one wait of a
 * revocation.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { BackendRequest, BackendResponse, Route } from '../router/backend.ts';
import { FieldType } from '../router/fields.ts';
import type { ClusterEvent, EventJournal } from './event_journal.ts';

/** The request path, relative to the router (the `sys/` mount serves `events`). */
export const eventsPath = 'sys/events';

/** The longest a poll may wait by default, and the most events one answer holds. */
export const eventsWaitMsMaxDefault = 30_000;
export const eventsPageMax = 100;

/** What the route needs: the node's journal and its wait cap. */
export interface EventsPort {
  readonly journal: EventJournal;
  /** The longest wait a poll may ask; more is cut to it. Default {@link eventsWaitMsMaxDefault}. */
  readonly waitMsMax?: number;
}

/** An event as `sys/events` answers it (Vault-style snake_case field names). */
export function eventData(event: ClusterEvent): Record<string, unknown> {
  const base = { index: event.index, type: event.type, time: new Date(event.timeMs).toISOString() };
  switch (event.type) {
    case 'leader_change':
      return { ...base, leader_id: event.leaderId, term: event.term };
    case 'peer_health':
      return { ...base, peer_id: event.peerId, healthy: event.healthy };
    case 'lease_revoked':
      return { ...base, lease_id: event.leaseId };
    case 'sealed':
    case 'unsealed':
      return base;
  }
}

function optionalInt(request: BackendRequest, name: string): number | undefined {
  const value = request.fields[name];
  return typeof value === 'number' ? value : undefined;
}

function boundedInt(value: number | undefined, range: { min: number; max: number }): number {
  return Math.min(range.max, Math.max(range.min, value ?? range.min));
}

async function readEvents(port: EventsPort, request: BackendRequest): Promise<BackendResponse> {
  const journal = port.journal;
  const epochField = request.fields['epoch'];
  const epoch = typeof epochField === 'string' && epochField !== '' ? epochField : undefined;
  const after = optionalInt(request, 'after');
  if (after !== undefined && after < 0) {
    throw new CoreError(CoreErrorCode.invalidRequest, 'Send "after" as an index of 0 or more');
  }
  const limit = boundedInt(optionalInt(request, 'limit') ?? eventsPageMax, {
    min: 1,
    max: eventsPageMax,
  });
  // NB: never past the token's expiry, so a subscription ends when its token does.
  const expireMs = request.caller?.expireMs ?? 0;
  const waitMs = boundedInt(optionalInt(request, 'wait_ms'), {
    min: 0,
    max: Math.min(
      port.waitMsMax ?? eventsWaitMsMaxDefault,
      expireMs === 0 ? Infinity : Math.max(0, expireMs - request.nowMs),
    ),
  });
  const cursor = {
    ...(after === undefined ? {} : { after }),
    ...(epoch === undefined ? {} : { epoch }),
  };
  let page = journal.read(cursor, limit);
  if (page.events.length === 0 && waitMs > 0) {
    await journal.waitAfter(page.after, waitMs);
    page = journal.read({ after: page.after, epoch: journal.epoch }, limit);
  }
  return {
    data: {
      epoch: page.epoch,
      after: page.after,
      last_index: page.lastIndex,
      oldest_index: page.oldestIndex,
      events: page.events.map(eventData),
    },
  };
}

/** The `sys/events` route over `port`. */
export function eventRoutes(port: EventsPort): readonly Route[] {
  return [
    {
      pattern: 'events',
      fields: {
        after: { type: FieldType.int, description: 'The last index the client has' },
        epoch: { type: FieldType.string, description: 'The epoch that index belongs to' },
        wait_ms: { type: FieldType.int, description: 'How long to wait for an event' },
        limit: { type: FieldType.int, description: 'The most events to answer' },
      },
      operations: { read: (request) => readEvents(port, request) },
    },
  ];
}
