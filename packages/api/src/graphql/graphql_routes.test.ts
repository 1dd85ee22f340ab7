/**
 * Goal: every GraphQL field that reaches core is exactly ONE core router request, the one its
 * route declares (a Subscription field: one per poll), and nothing reaches core another way
 * (issue 10 item 1): every Query, Mutation and Subscription field has a route; every resolver of the schema is built from the route table; each
 * field, run, sends one request whose operation and path match its declared pattern; the same
 * operation through GraphQL and through the typed gRPC method is the same router request; every
 * typed gRPC method maps to a router path.
 * Method: the executable schema run by graphql-js's `execute` with a context whose router port
 * records each request and refuses it (so no answer shape is needed); arguments are made from
 * the schema's own argument types; the gRPC method table called with messages decoded by the
 * package definition's own serializer.
 */
import type { GraphQLArgument, GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';

import type { CoreResponse, Operation } from '@coffer/core';

import { execute, getNamedType, isObjectType, parse, subscribe } from './graphql_module.ts';
import { sampleOf } from '../testing/graphql_documents.ts';
import { methodDefinitionOf } from '../testing/grpc_test_client.ts';
import { findMethod, methodTable, type RouterCall } from '../grpc/method_table.ts';
import { fieldRoutes, findFieldRoute } from './field_routes.ts';
import {
  executableSchema,
  isRoutedResolver,
  isRoutedSubscriber,
  type GraphqlContext,
} from './graphql_resolvers.ts';

const schema: GraphQLSchema = executableSchema();

/** Whether `path` matches a router pattern: literals, `:name` one segment, `*name` one or more. */
function matchesPattern(pattern: string, path: string): boolean {
  const want = pattern.split('/');
  const got = path.split('/');
  const star = want.findIndex((part) => part.startsWith('*'));
  if (star < 0) {
    return (
      want.length === got.length &&
      want.every((part, i) => (part.startsWith(':') ? got[i] !== '' : part === got[i]))
    );
  }
  const after = want.length - star - 1;
  const middle = got.slice(star, got.length - after);
  return (
    got.length >= want.length &&
    middle.length >= 1 &&
    middle.every((part, i) => part !== '' || i === middle.length - 1) &&
    want
      .slice(0, star)
      .every((part, i) => (part.startsWith(':') ? got[i] !== '' : part === got[i])) &&
    want.slice(star + 1).every((part, i) => part === got[got.length - after + i])
  );
}

interface Recorded {
  readonly calls: RouterCall[];
  readonly context: GraphqlContext;
}

/** A context whose router port records each request and answers `answer(call)`. */
function recordingContext(answer?: (call: RouterCall) => CoreResponse): Recorded {
  const calls: RouterCall[] = [];
  const refuse = (): CoreResponse => ({
    ok: false,
    requestId: 'r',
    code: 'COFFER_CORE_PERMISSION_DENIED',
    message: 'denied',
  });
  return {
    calls,
    context: {
      coffer: {
        call: (call) => {
          calls.push(call);
          return Promise.resolve((answer ?? refuse)(call));
        },
        poll: (call) => {
          calls.push(call);
          return Promise.resolve((answer ?? refuse)(call));
        },
        pollWaitMs: 250,
        signal: new AbortController().signal,
        metricsSnapshot: undefined,
      },
    },
  };
}

/** Runs `operation { field(args) { __typename } }` with sample arguments. */
async function runField(
  operation: 'query' | 'mutation',
  fieldName: string,
  recorded: Recorded,
): Promise<readonly unknown[]> {
  const root = operation === 'query' ? schema.getQueryType() : schema.getMutationType();
  const field = root?.getFields()[fieldName];
  if (field === undefined) {
    throw new Error(`no field ${fieldName}`);
  }
  const args: readonly GraphQLArgument[] = field.args;
  const declared = args.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(', ');
  const passed = args.map((arg) => `${arg.name}: $${arg.name}`).join(', ');
  const selection = isObjectType(getNamedType(field.type)) ? ' { __typename }' : '';
  const text =
    `${operation}${declared === '' ? '' : `(${declared})`} ` +
    `{ ${fieldName}${passed === '' ? '' : `(${passed})`}${selection} }`;
  const variableValues = Object.fromEntries(args.map((arg) => [arg.name, sampleOf(arg.type)]));
  const result = await execute({
    schema,
    document: parse(text),
    variableValues,
    contextValue: recorded.context,
  });
  return result.errors ?? [];
}

/** Every message of a subscription document until it ends (it must end: the context refuses). */
async function subscribeAll(text: string, recorded: Recorded): Promise<unknown[]> {
  const stream = await subscribe({
    schema,
    document: parse(text),
    contextValue: recorded.context,
  });
  if (!(Symbol.asyncIterator in stream)) {
    return [stream];
  }
  const messages: unknown[] = [];
  for await (const message of stream) {
    messages.push(JSON.parse(JSON.stringify(message)));
  }
  return messages;
}

/** Every routed root field as [operation, field name]. */
const rootFields: (readonly ['query' | 'mutation', string])[] = [
  ...Object.keys(fieldRoutes['Query'] ?? {}).map((name) => ['query', name] as const),
  ...Object.keys(fieldRoutes['Mutation'] ?? {}).map((name) => ['mutation', name] as const),
];

describe('the GraphQL route table', () => {
  it('has a route for every Query, Mutation and Subscription field, and a field for every route', () => {
    for (const typeName of ['Query', 'Mutation', 'Subscription']) {
      const type = schema.getType(typeName);
      if (!isObjectType(type)) {
        throw new Error(`${typeName} is not an object type`);
      }
      const unrouted = Object.keys(type.getFields()).filter(
        (name) => findFieldRoute(typeName, name) === undefined,
      );
      expect(unrouted, `${typeName} fields without a router path`).toEqual([]);
    }
    for (const [typeName, routes] of Object.entries(fieldRoutes)) {
      const type = schema.getType(typeName);
      for (const fieldName of Object.keys(routes)) {
        expect(isObjectType(type) && type.getFields()[fieldName] !== undefined).toBe(true);
      }
    }
  });

  it('gives every resolver of the schema from the route table, and no other', () => {
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) {
        continue;
      }
      for (const field of Object.values(type.getFields())) {
        const routed = findFieldRoute(type.name, field.name) !== undefined;
        expect(field.resolve === undefined ? false : isRoutedResolver(field.resolve)).toBe(routed);
        expect(field.resolve !== undefined, `${type.name}.${field.name}`).toBe(routed);
        const subscription = type.name === 'Subscription';
        expect(field.subscribe !== undefined, `${type.name}.${field.name}`).toBe(subscription);
        expect(isRoutedSubscriber(field.subscribe)).toBe(subscription);
      }
    }
  });

  it.each(rootFields)(
    '%s field %s sends exactly one router request, matching its declared path',
    async (kind, name) => {
      const recorded = recordingContext();
      const errors = await runField(kind, name, recorded);
      const route = findFieldRoute(kind === 'query' ? 'Query' : 'Mutation', name);
      expect(recorded.calls).toHaveLength(1);
      const [call] = recorded.calls;
      expect(call?.operation).toBe(route?.operation);
      expect(matchesPattern(route?.path ?? '', call?.path ?? ''), call?.path ?? '').toBe(true);
      expect(errors).toHaveLength(1);
      expect(JSON.stringify(errors[0])).toContain('COFFER_CORE_PERMISSION_DENIED');
    },
  );

  it.each(Object.keys(fieldRoutes['Subscription'] ?? {}))(
    'subscription field %s sends exactly one router request per poll, matching its declared path',
    async (name) => {
      const recorded = recordingContext();
      const messages = await subscribeAll(`subscription { ${name} { __typename } }`, recorded);
      const route = findFieldRoute('Subscription', name);
      expect(recorded.calls).toHaveLength(1);
      const [call] = recorded.calls;
      expect(call?.operation).toBe(route?.operation);
      expect(matchesPattern(route?.path ?? '', call?.path ?? ''), call?.path ?? '').toBe(true);
      expect(messages).toHaveLength(1);
      expect(JSON.stringify(messages[0])).toContain('COFFER_CORE_PERMISSION_DENIED');
    },
  );

  it('Subscription.clusterEvents polls sys/events from the last answer and ends on a refusal', async () => {
    let polls = 0;
    const recorded = recordingContext((): CoreResponse => {
      polls += 1;
      if (polls === 1) {
        return {
          ok: true,
          requestId: 'r',
          data: {
            epoch: 'e1',
            after: 8,
            events: [
              { index: 7, type: 'leader_change', time: 't', leader_id: 2, term: 4 },
              { index: 8, type: 'lease_revoked', time: 't', lease_id: 'auth/token/create/x' },
            ],
          },
        };
      }
      if (polls === 2) {
        return { ok: true, requestId: 'r', data: { epoch: 'e1', after: 8, events: [] } };
      }
      return { ok: false, requestId: 'r', code: 'COFFER_CORE_SEALED', message: 'sealed' };
    });
    const messages = await subscribeAll(
      'subscription { clusterEvents(after: 6, epoch: "e1") { index epoch type leaderId term leaseId } }',
      recorded,
    );
    expect(recorded.calls).toEqual([
      { operation: 'read', path: 'sys/events', data: { after: 6, epoch: 'e1', wait_ms: 250 } },
      { operation: 'read', path: 'sys/events', data: { after: 8, epoch: 'e1', wait_ms: 250 } },
      { operation: 'read', path: 'sys/events', data: { after: 8, epoch: 'e1', wait_ms: 250 } },
    ]);
    expect(messages.slice(0, 2)).toEqual([
      {
        data: {
          clusterEvents: {
            index: 7,
            epoch: 'e1',
            type: 'LEADER_CHANGE',
            leaderId: '2',
            term: 4,
            leaseId: null,
          },
        },
      },
      {
        data: {
          clusterEvents: {
            index: 8,
            epoch: 'e1',
            type: 'LEASE_REVOKED',
            leaderId: null,
            term: null,
            leaseId: 'auth/token/create/x',
          },
        },
      },
    ]);
    expect(messages).toHaveLength(3);
    expect(JSON.stringify(messages[2])).toContain('COFFER_CORE_SEALED');
  });

  it('Subscription.clusterEvents makes no poll once the client went away', async () => {
    const gone = new AbortController();
    const recorded = recordingContext((): CoreResponse => {
      if (recorded.calls.length === 2) {
        gone.abort();
      }
      return { ok: true, requestId: 'r', data: { epoch: 'e', after: 0, events: [] } };
    });
    const context = { coffer: { ...recorded.context.coffer, signal: gone.signal } };
    const messages = await subscribeAll('subscription { clusterEvents { index } }', {
      calls: recorded.calls,
      context,
    });
    expect(messages).toEqual([]);
    expect(recorded.calls).toHaveLength(2);
  });

  it('LeaseKey.lease sends one lookup per lease and none for a prefix', async () => {
    const recorded = recordingContext((call) =>
      call.operation === 'list'
        ? { ok: true, requestId: 'r', data: { keys: ['a', 'b', 'dir/'] } }
        : { ok: false, requestId: 'r', code: 'COFFER_CORE_LEASE_INVALID', message: 'gone' },
    );
    const result = await execute({
      schema,
      document: parse('{ leases(prefix: "secret/x") { keys { key leaseId lease { id } } } }'),
      contextValue: recorded.context,
    });
    expect(recorded.calls.map((call) => call.path)).toEqual([
      'sys/leases/lookup/secret/x/',
      'sys/leases/lookup',
      'sys/leases/lookup',
    ]);
    expect(recorded.calls.slice(1).map((call) => call.data)).toEqual([
      { lease_id: 'secret/x/a' },
      { lease_id: 'secret/x/b' },
    ]);
    expect(result.errors).toHaveLength(2);
  });

  it('refuses an empty or slashed path argument before any router request', async () => {
    const recorded = recordingContext();
    for (const name of ['a/b', '']) {
      const result = await execute({
        schema,
        document: parse('query($name: String!) { policy(name: $name) { name } }'),
        variableValues: { name },
        contextValue: recorded.context,
      });
      expect(result.errors?.map((error) => error.originalError)).toEqual([
        expect.objectContaining({ code: 'COFFER_API_INVALID_REQUEST' }),
      ]);
    }
    expect(recorded.calls).toEqual([]);
  });
});

/** The router call of a gRPC method for `message`, decoded as the server decodes it. */
function grpcCall(fullName: string, message: Record<string, unknown> = {}): RouterCall {
  const method = methodDefinitionOf(fullName);
  const decoded = method.requestDeserialize(method.requestSerialize(message)) as Record<
    string,
    unknown
  >;
  const entry = findMethod(fullName);
  if (entry === undefined) {
    throw new Error(`no entry for ${fullName}`);
  }
  return entry.toCall(decoded);
}

/** The router call a GraphQL field makes with `variables`. */
async function graphqlCall(text: string, variables: Record<string, unknown>): Promise<RouterCall> {
  const recorded = recordingContext();
  await execute({
    schema,
    document: parse(text),
    variableValues: variables,
    contextValue: recorded.context,
  });
  expect(recorded.calls).toHaveLength(1);
  return recorded.calls[0] as RouterCall;
}

const operations: ReadonlySet<string> = new Set<Operation>([
  'create',
  'read',
  'update',
  'patch',
  'delete',
  'list',
]);

describe('GraphQL and gRPC send the same router request', () => {
  it('maps every typed gRPC method to one router operation and path', () => {
    const mapping: string[] = [];
    for (const [service, methods] of Object.entries(methodTable)) {
      for (const method of Object.keys(methods)) {
        const call = grpcCall(`/coffer.v1.${service}/${method}`, { path: 'p', name: 'n' });
        expect(operations.has(call.operation), `${service}.${method}`).toBe(true);
        expect(call.path).toMatch(/^[a-z]/);
        mapping.push(`${service}.${method} → ${call.operation} ${call.path}`);
      }
    }
    expect(mapping.length).toBeGreaterThan(40);
  });

  it('sends the same request for a policy write, a mount enable, a lease renewal and a token create', async () => {
    expect(
      await graphqlCall(
        'mutation($t: String!) { writePolicy(name: "ops", text: $t) { warnings } }',
        {
          t: 'path "x" {}',
        },
      ),
    ).toEqual(grpcCall('/coffer.v1.Policies/Write', { name: 'ops', policy: 'path "x" {}' }));
    expect(
      await graphqlCall(
        'mutation { enableSecretsEngine(path: "kv", input: {type: "kv", maxLeaseTtl: "1h"}) { warnings } }',
        {},
      ),
    ).toEqual(
      grpcCall('/coffer.v1.Mounts/EnableSecrets', { path: 'kv', type: 'kv', max_lease_ttl: '1h' }),
    );
    expect(
      await graphqlCall('mutation { renewLease(leaseId: "l/1", increment: "5m") { leaseId } }', {}),
    ).toEqual(grpcCall('/coffer.v1.Leases/Renew', { lease_id: 'l/1', increment: '5m' }));
    const created = await graphqlCall(
      'mutation { createToken(input: {policies: ["p"], ttl: "1h"}) { accessor } }',
      {},
    );
    const viaGrpc = grpcCall('/coffer.v1.Auth/TokenCreate', { policies: ['p'], ttl: '1h' });
    expect(created.path).toBe(viaGrpc.path);
    expect(viaGrpc.data).toMatchObject(created.data ?? {});
    expect(await graphqlCall('query { policy(name: "ops") { text } }', {})).toEqual(
      grpcCall('/coffer.v1.Policies/Read', { name: 'ops' }),
    );
  });
});
