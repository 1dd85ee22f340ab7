/**
 * The routed fields of `Subscription`: each poll of a subscription is ONE router request, the
 * one its route declares, made with the cursor the previous poll left (field_route.ts,
 * `PollPage`); the resolver that loops over polls is graphql_resolvers.ts's.
 *
 * `clusterEvents` reads `sys/events` (core's events/event_routes.ts): the events after the
 * cursor, waiting up to the listener's `graphql.subscription_wait_ms` for one.
 */
import { ApiError, ApiErrorCode } from '../errors.ts';
import { dataOf } from './answer_values.ts';
import { routerCall, type FieldRoute, type PollPage, type TypeRoutes } from './field_route.ts';
import {
  flagAt,
  numberAt,
  objectOf,
  optionalNumberAt,
  textAt,
  type Fields,
} from './router_values.ts';

/** Where the next poll of `clusterEvents` continues: after an index of an epoch. */
interface EventsCursor {
  readonly after: number | undefined;
  readonly epoch: string | undefined;
}

/** The cursor of the first poll: the arguments; later, what the last poll answered. */
function cursorOf(args: Fields, parent: unknown): EventsCursor {
  if (parent !== undefined) {
    return parent as EventsCursor;
  }
  const after = args['after'];
  const epoch = args['epoch'];
  if (after !== undefined && after !== null && (typeof after !== 'number' || after < 0)) {
    throw new ApiError(ApiErrorCode.invalidRequest, 'Send "after" as an index of 0 or more');
  }
  return {
    after: typeof after === 'number' ? after : undefined,
    epoch: typeof epoch === 'string' && epoch !== '' ? epoch : undefined,
  };
}

const eventTypes: Readonly<Record<string, string>> = {
  leader_change: 'LEADER_CHANGE',
  sealed: 'SEALED',
  unsealed: 'UNSEALED',
  peer_health: 'PEER_HEALTH',
  lease_revoked: 'LEASE_REVOKED',
};

/** One event of core's answer as a `ClusterEvent`; an unknown type is a bug (INTERNAL). */
function clusterEventOf(value: unknown, epoch: string): Fields {
  const event = objectOf(value, 'events');
  const type = eventTypes[textAt(event, 'type')];
  if (type === undefined) {
    throw new ApiError(ApiErrorCode.internal, 'Report a bug: the router sent an unknown event');
  }
  const leaderId = type === 'LEADER_CHANGE' ? numberAt(event, 'leader_id') : undefined;
  const peerId = type === 'PEER_HEALTH' ? numberAt(event, 'peer_id') : undefined;
  return {
    index: numberAt(event, 'index'),
    epoch,
    type,
    time: textAt(event, 'time'),
    leaderId: leaderId === undefined || leaderId === 0 ? null : String(leaderId),
    term: type === 'LEADER_CHANGE' ? optionalNumberAt(event, 'term') : null,
    peerId: peerId === undefined ? null : String(peerId),
    healthy: type === 'PEER_HEALTH' ? flagAt(event, 'healthy') : null,
    leaseId: type === 'LEASE_REVOKED' ? textAt(event, 'lease_id') : null,
  };
}

const clusterEventsRoute: FieldRoute = {
  operation: 'read',
  path: 'sys/events',
  toCall: ({ args, parent, pollWaitMs }) => {
    const cursor = cursorOf(args, parent);
    return routerCall('read', 'sys/events', {
      ...(cursor.after === undefined ? {} : { after: cursor.after }),
      ...(cursor.epoch === undefined ? {} : { epoch: cursor.epoch }),
      wait_ms: pollWaitMs,
    });
  },
  toValue: (answer): PollPage => {
    const data = dataOf(answer);
    const epoch = textAt(data, 'epoch');
    const events = data['events'];
    if (!Array.isArray(events)) {
      throw new ApiError(ApiErrorCode.internal, 'Report a bug: the router sent no event list');
    }
    const next: EventsCursor = { after: numberAt(data, 'after'), epoch };
    return { items: events.map((event) => clusterEventOf(event, epoch)), next };
  },
};

/** The routed fields of Subscription. */
export const subscriptionRoutes: TypeRoutes = { clusterEvents: clusterEventsRoute };
