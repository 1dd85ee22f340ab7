/**
 * The resolvers of the GraphQL schema, every one built from the field route table
 * (field_routes.ts): it turns the arguments into ONE router request, sends it through the
 * request's {@link RouterPort} (which adds the caller's token and address and calls the same
 * `CofferNode.handle` the gRPC adapter calls; the node makes the request id), and turns the
 * answer into the field's value. No resolver reaches core any other way; fields without a
 * route are projections of their parent's value (graphql's default resolver). A Subscription
 * field polls: each poll is one router request, the same way (pollingSubscriber).
 *
 * Invariant: a core refusal becomes a field error with the core's code and message; nothing
 * else of the answer is sent.
 */
import assert from 'node:assert/strict';

import type { CoreResponse } from '@coffer/core';
import type { GraphQLFieldResolver, GraphQLSchema } from 'graphql';

import { buildSchema, isObjectType } from './graphql_module.ts';
import type { RouterCall } from '../grpc/method_table.ts';
import type { MetricsSnapshot } from '../metrics/api_metrics.ts';
import type { FieldRoute, FieldSource, PollPage } from './field_route.ts';
import { fieldRoutes } from './field_routes.ts';
import { coreFieldError } from './graphql_errors.ts';
import type { Fields } from './router_values.ts';
import { schemaSdl } from './schema_sdl.ts';

/** What a resolver may do: send one router request as the caller. */
export interface RouterPort {
  /** Sends `call` to the router with the caller's token and address (the node makes its id). */
  call(call: RouterCall): Promise<CoreResponse>;
  /**
   * Sends one poll of a subscription like `call`, outside the document's budget of router
   * requests (a subscription polls for as long as it lives; each poll waits up to
   * `pollWaitMs`).
   */
  poll(call: RouterCall): Promise<CoreResponse>;
  /** How long a poll asks the router to wait for an item (graphql.subscription_wait_ms). */
  readonly pollWaitMs: number;
  /** Aborted once the client went away: a subscription makes no poll after it. */
  readonly signal: AbortSignal;
  /** The node's metrics, for `Query.metrics`; undefined when the listener has none. */
  readonly metricsSnapshot: (() => MetricsSnapshot) | undefined;
}

/** The GraphQL context of one HTTP request. */
export interface GraphqlContext {
  readonly coffer: RouterPort;
}

type Resolver = GraphQLFieldResolver<unknown, GraphqlContext, Fields>;
type Subscriber = (
  parent: unknown,
  args: Fields,
  context: GraphqlContext,
) => AsyncGenerator<PollMessage, void>;

/** Marks the resolvers and source streams made here, so a test can tell them from any other. */
const routedResolverSet = new WeakSet<Resolver>();
const routedSubscriberSet = new WeakSet<Subscriber>();

/** Whether `resolver` was built from the route table (graphql_routes.test.ts). */
export function isRoutedResolver(resolver: unknown): boolean {
  return typeof resolver === 'function' && routedResolverSet.has(resolver as Resolver);
}

function sourceOf(parent: unknown, args: Fields, context: GraphqlContext): FieldSource {
  return {
    args,
    parent,
    metricsSnapshot: context.coffer.metricsSnapshot,
    pollWaitMs: context.coffer.pollWaitMs,
  };
}

function routedResolver(route: FieldRoute): Resolver {
  const resolver: Resolver = async (parent, args, context) => {
    const source = sourceOf(parent, args, context);
    const call = route.toCall(source);
    if (call === undefined) {
      return null;
    }
    const answer = await context.coffer.call(call);
    if (!answer.ok) {
      throw coreFieldError(answer);
    }
    return route.toValue(answer, source);
  };
  routedResolverSet.add(resolver);
  return resolver;
}

/** One message of a subscription: an item of a poll, or the error that ends it. */
type PollMessage = { readonly item: unknown } | { readonly error: unknown };

/**
 * The source stream of a Subscription field: poll after poll, each ONE router request
 * (`route.toCall` from the previous poll's `next`), its items yielded in order. A refusal
 * (expired or revoked token, denied, sealed, an expired cursor) or a bad answer is yielded as
 * the last message, which the field's resolver turns into a field error: the stream then ends
 * with that error sent, instead of breaking the connection.
 *
 * NB: when the client goes away, graphql-yoga calls `return()` and the port's signal aborts;
 * a generator waiting on a poll ends once that poll answers (within `pollWaitMs`).
 */
function pollingSubscriber(route: FieldRoute): Subscriber {
  const subscriber: Subscriber = async function* (_parent, args, context) {
    let cursor: unknown = undefined;
    // NB: a generator with nothing to yield never sees graphql-yoga's return(); the signal
    // stops it instead, after the poll in flight.
    while (!context.coffer.signal.aborted) {
      let page: PollPage;
      try {
        const source = sourceOf(cursor, args, context);
        const call = route.toCall(source);
        assert(call !== undefined, 'a subscription route always makes a request');
        const answer = await context.coffer.poll(call);
        if (!answer.ok) {
          yield { error: coreFieldError(answer) };
          return;
        }
        page = route.toValue(answer, source) as PollPage;
      } catch (error) {
        yield { error };
        return;
      }
      for (const item of page.items) {
        yield { item };
      }
      cursor = page.next;
    }
  };
  routedSubscriberSet.add(subscriber);
  return subscriber;
}

/** The value of one subscription message: its item, or its error thrown as the field's. */
function pollMessageResolver(): Resolver {
  const resolver: Resolver = (message: unknown) => {
    const polled = message as PollMessage;
    if ('error' in polled) {
      throw polled.error;
    }
    return polled.item;
  };
  routedResolverSet.add(resolver);
  return resolver;
}

/** Whether `subscriber` was built from the route table (graphql_routes.test.ts). */
export function isRoutedSubscriber(subscriber: unknown): boolean {
  return typeof subscriber === 'function' && routedSubscriberSet.has(subscriber as Subscriber);
}

/**
 * The schema of schema_sdl.ts with a routed resolver on every field of the route table and on
 * no other (a Subscription field gets a polling source stream and the resolver of its
 * messages). Asserts that every table entry names a field of the schema.
 */
export function executableSchema(): GraphQLSchema {
  const schema = buildSchema(schemaSdl);
  for (const [typeName, routes] of Object.entries(fieldRoutes)) {
    const type = schema.getType(typeName);
    assert(isObjectType(type), `route table type ${typeName} is not an object type`);
    const fields = type.getFields();
    for (const [fieldName, route] of Object.entries(routes)) {
      const field = fields[fieldName];
      assert(
        field !== undefined,
        `route table field ${typeName}.${fieldName} is not in the schema`,
      );
      if (typeName === 'Subscription') {
        field.subscribe = pollingSubscriber(route);
        field.resolve = pollMessageResolver();
      } else {
        field.resolve = routedResolver(route);
      }
    }
  }
  return schema;
}
