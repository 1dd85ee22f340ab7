/**
 * The resolvers of the GraphQL schema, every one built from the field route table
 * (field_routes.ts): it turns the arguments into ONE router request, sends it through the
 * request's {@link RouterPort} (which adds the caller's token, address and a fresh request id
 * and calls the same `CofferNode.handle` the gRPC adapter calls), and turns the answer into
 * the field's value. No resolver reaches core any other way; fields without a route are
 * projections of their parent's value (graphql's default resolver).
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
import type { FieldRoute } from './field_route.ts';
import { fieldRoutes } from './field_routes.ts';
import { coreFieldError } from './graphql_errors.ts';
import type { Fields } from './router_values.ts';
import { schemaSdl } from './schema_sdl.ts';

/** What a resolver may do: send one router request as the caller. */
export interface RouterPort {
  /** Sends `call` to the router with the caller's token, address and a fresh request id. */
  call(call: RouterCall): Promise<CoreResponse>;
  /** The node's metrics, for `Query.metrics`; undefined when the listener has none. */
  readonly metricsSnapshot: (() => MetricsSnapshot) | undefined;
}

/** The GraphQL context of one HTTP request. */
export interface GraphqlContext {
  readonly coffer: RouterPort;
}

type Resolver = GraphQLFieldResolver<unknown, GraphqlContext, Fields>;

/** Marks the resolvers made here, so a test can tell them from any other. */
const routedResolverSet = new WeakSet<Resolver>();

/** Whether `resolver` was built from the route table (graphql_routes.test.ts). */
export function isRoutedResolver(resolver: unknown): boolean {
  return typeof resolver === 'function' && routedResolverSet.has(resolver as Resolver);
}

function routedResolver(route: FieldRoute): Resolver {
  const resolver: Resolver = async (parent, args, context) => {
    const source = { args, parent, metricsSnapshot: context.coffer.metricsSnapshot };
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

/**
 * The schema of schema_sdl.ts with a routed resolver on every field of the route table and on
 * no other. Asserts that every table entry names a field of the schema.
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
      field.resolve = routedResolver(route);
    }
  }
  return schema;
}
