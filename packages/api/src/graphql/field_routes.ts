/**
 * The one table of routed GraphQL fields: by type and field name, the ONE router request each
 * makes (field_route.ts), or for a Subscription field the one request of each poll. The
 * resolvers are built from it and from nothing else (graphql_resolvers.ts);
 * graphql_routes.test.ts checks that every Query, Mutation and Subscription field of the schema
 * has an entry and that each entry makes exactly the request it declares.
 */
import type { FieldRoute, TypeRoutes } from './field_route.ts';
import { mutationRoutes } from './mutation_routes.ts';
import { leaseKeyRoutes, queryRoutes } from './query_routes.ts';
import { subscriptionRoutes } from './subscription_routes.ts';

/** Every routed field, by type name then field name. */
export const fieldRoutes: Readonly<Record<string, TypeRoutes>> = {
  Query: queryRoutes,
  Mutation: mutationRoutes,
  Subscription: subscriptionRoutes,
  LeaseKey: leaseKeyRoutes,
};

/** The route of `typeName.fieldName`, or undefined for a field that is a plain projection. */
export function findFieldRoute(typeName: string, fieldName: string): FieldRoute | undefined {
  if (!Object.hasOwn(fieldRoutes, typeName)) {
    return undefined;
  }
  const routes = fieldRoutes[typeName] ?? {};
  return Object.hasOwn(routes, fieldName) ? routes[fieldName] : undefined;
}

/** Whether `typeName.fieldName` makes a router request (the cost rule counts it higher). */
export function isRoutedField(typeName: string, fieldName: string): boolean {
  return findFieldRoute(typeName, fieldName) !== undefined;
}
