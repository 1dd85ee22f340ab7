/**
 * The contract of one routed GraphQL field: the ONE router request it makes and how the core's
 * answer becomes its value. query_routes.ts and mutation_routes.ts hold the entries;
 * field_routes.ts joins them into the table the resolvers are built from.
 */
import type { CoreSuccess, Operation } from '@coffer/core';

import type { RouterCall } from '../grpc/method_table.ts';
import type { MetricsSnapshot } from '../metrics/api_metrics.ts';
import type { Fields } from './router_values.ts';

/** What a routed field's value is made from besides the router's answer. */
export interface FieldSource {
  /** The field's arguments. */
  readonly args: Fields;
  /**
   * The parent object's value (for a nested field such as `LeaseKey.lease`); for a
   * Subscription field, the `next` of the previous poll's {@link PollPage} (undefined first).
   */
  readonly parent: unknown;
  /** How long one poll of a Subscription field asks the router to wait for an item. */
  readonly pollWaitMs: number;
  /** The node's metrics, for `Query.metrics` (which its router request only authorizes). */
  readonly metricsSnapshot: (() => MetricsSnapshot) | undefined;
}

/** One routed field. */
export interface FieldRoute {
  /** The operation every request of this field has. */
  readonly operation: Operation;
  /**
   * The path pattern every request of this field matches: literal segments, `:name` for one
   * segment, `*name` for one or more (the router's own pattern language, route_match.ts).
   */
  readonly path: string;
  /**
   * The request, or `undefined` when the parent holds nothing to ask for (a lease key that is
   * a prefix): the field is then null without a request. Throws ApiError
   * COFFER_API_INVALID_REQUEST on a bad argument.
   */
  readonly toCall: (source: FieldSource) => RouterCall | undefined;
  /** The field's value from the router's answer. Throws ApiError COFFER_API_INTERNAL. */
  readonly toValue: (answer: CoreSuccess, source: FieldSource) => unknown;
}

/**
 * The value a Subscription field's `toValue` makes of one poll's answer: the items to send,
 * one message each, in order, and what the next poll continues from (its `parent`).
 */
export interface PollPage {
  readonly items: readonly unknown[];
  readonly next: unknown;
}

/** The routed fields of one type, by field name. */
export type TypeRoutes = Readonly<Record<string, FieldRoute>>;

/** A request with `data` only when it has members. */
export function routerCall(
  operation: Operation,
  path: string,
  data?: Readonly<Record<string, unknown>>,
): RouterCall {
  return data === undefined || Object.keys(data).length === 0
    ? { operation, path }
    : { operation, path, data };
}

/** The warnings of an answer, as an Acknowledgement. */
export function acknowledgement(answer: CoreSuccess): { readonly warnings: readonly string[] } {
  return { warnings: answer.warnings ?? [] };
}

/** A route with fixed operation and path and no data. */
export function fixedRoute(
  operation: Operation,
  path: string,
  toValue: FieldRoute['toValue'] = acknowledgement,
): FieldRoute {
  return { operation, path, toCall: () => routerCall(operation, path), toValue };
}
