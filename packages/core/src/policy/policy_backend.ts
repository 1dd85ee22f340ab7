/**
 * The `sys/` endpoints that manage ACL policies (Vault's sys/policies/acl and the older
 * sys/policy), relative to the sys mount:
 *
 *   LIST|READ          policies/acl          -> { keys }
 *   READ               policies/acl/:name    -> { name, policy }
 *   CREATE|UPDATE      policies/acl/:name    <- { policy }
 *   DELETE             policies/acl/:name
 *   LIST|READ          policy                -> { keys, policies }
 *   READ               policy/:name          -> { name, rules }
 *   CREATE|UPDATE      policy/:name          <- { policy } (or the older { rules })
 *   DELETE             policy/:name
 *
 * `root` cannot be written, `root` and `default` cannot be deleted, `response-wrapping` is
 * hidden (reads answer not found). Deleting a missing policy succeeds, as in Vault.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { Backend, BackendRequest, BackendResponse, Route } from '../router/backend.ts';
import { FieldType } from '../router/fields.ts';
import { responseWrappingPolicyName } from './builtin_policies.ts';
import { normalizePolicyName } from './policy_name.ts';
import type { Policy } from './policy_types.ts';

/** What the routes need of the store (PolicyStore implements it). */
export interface PolicyStoreApi {
  get(name: string): Promise<Policy | undefined>;
  list(): Promise<string[]>;
  write(name: string, text: string): Promise<Policy>;
  delete(name: string): Promise<void>;
  isStored(name: string): Promise<boolean>;
}

function nameOf(request: BackendRequest): string {
  return normalizePolicyName(request.params['name'] ?? '');
}

async function readPolicy(store: PolicyStoreApi, request: BackendRequest): Promise<Policy> {
  const name = nameOf(request);
  const policy = name === responseWrappingPolicyName ? undefined : await store.get(name);
  if (policy === undefined) {
    throw new CoreError(
      CoreErrorCode.notFound,
      `Write the policy "${name}" first: there is no such policy`,
    );
  }
  return policy;
}

function textOf(request: BackendRequest, fields: readonly string[]): string {
  for (const field of fields) {
    const value = request.fields[field];
    if (typeof value === 'string' && value !== '') {
      return value;
    }
  }
  throw new CoreError(
    CoreErrorCode.invalidRequest,
    `Send the policy document in the field "${fields[0] ?? 'policy'}"`,
  );
}

function writer(store: PolicyStoreApi, fields: readonly string[]) {
  return async (request: BackendRequest): Promise<BackendResponse> => {
    await store.write(nameOf(request), textOf(request, fields));
    return {};
  };
}

function deleter(store: PolicyStoreApi) {
  return async (request: BackendRequest): Promise<BackendResponse> => {
    await store.delete(nameOf(request));
    return {};
  };
}

function aclRoutes(store: PolicyStoreApi): Route[] {
  const list = async (): Promise<BackendResponse> => ({ data: { keys: await store.list() } });
  return [
    { pattern: 'policies/acl', operations: { list, read: list } },
    {
      pattern: 'policies/acl/:name',
      fields: {
        policy: { type: FieldType.string, description: 'The policy document (HCL or JSON)' },
      },
      exists: (request) => store.isStored(nameOf(request)),
      operations: {
        read: async (request) => {
          const policy = await readPolicy(store, request);
          return { data: { name: policy.name, policy: policy.text } };
        },
        create: writer(store, ['policy']),
        update: writer(store, ['policy']),
        delete: deleter(store),
      },
    },
  ];
}

function legacyRoutes(store: PolicyStoreApi): Route[] {
  const list = async (): Promise<BackendResponse> => {
    const names = await store.list();
    return { data: { keys: names, policies: names } };
  };
  return [
    { pattern: 'policy', operations: { list, read: list } },
    {
      pattern: 'policy/:name',
      fields: {
        policy: { type: FieldType.string, description: 'The policy document (HCL or JSON)' },
        rules: { type: FieldType.string, description: 'Deprecated name of the policy field' },
      },
      exists: (request) => store.isStored(nameOf(request)),
      operations: {
        read: async (request) => {
          const policy = await readPolicy(store, request);
          return { data: { name: policy.name, rules: policy.text } };
        },
        create: writer(store, ['policy', 'rules']),
        update: writer(store, ['policy', 'rules']),
        delete: deleter(store),
      },
    },
  ];
}

/** The policy routes over a store. */
export function policyBackend(store: PolicyStoreApi): Backend {
  return { routes: [...aclRoutes(store), ...legacyRoutes(store)] };
}
