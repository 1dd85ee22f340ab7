/**
 * The secret_id routes of a role: generate (`secret-id` update), list accessors (`secret-id`
 * list), register a caller's secret_id (`custom-secret-id`), look up and destroy by secret_id or
 * by accessor. Lookups show metadata and limits, never the secret_id; destroys are idempotent.
 */
import { randomUUID } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../../errors.ts';
import type { BackendRequest, BackendResponse, Route } from '../../router/backend.ts';
import { FieldType } from '../../router/fields.ts';
import { listAll, type WriteOperation } from '../../router/storage_view.ts';
import type { AppRoleContext } from './approle_context.ts';
import { requireRole, type RoleEntry } from './role_entry.ts';
import {
  accessorKey,
  accessorPrefix,
  deleteSecretIdOperations,
  findByAccessor,
  findSecretId,
  secretIdExpired,
  secretIdResponseData,
  type FoundSecretId,
} from './secret_id_entry.ts';
import { checkSecretId, issueFieldSpecs, issueSecretId } from './secret_id_issue.ts';

function stringField(request: BackendRequest, field: string): string {
  const value = request.fields[field];
  if (typeof value !== 'string' || value === '') {
    throw new CoreError(CoreErrorCode.invalidRequest, `Send the required field "${field}"`);
  }
  return value;
}

/** The request's accessor; refuses anything but a UUID (it becomes part of a storage key). */
function accessorOf(request: BackendRequest): string {
  const accessor = stringField(request, 'secret_id_accessor');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(accessor)) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      'Send "secret_id_accessor" as the UUID the secret_id was issued with',
    );
  }
  return accessor;
}

function roleOf(request: BackendRequest): Promise<{ role: RoleEntry }> {
  return requireRole(request.storage, request.params['role_name'] ?? '');
}

/** The role's live entry for the request's secret_id, or undefined. */
async function findBySecretId(
  context: AppRoleContext,
  request: BackendRequest,
): Promise<{ role: RoleEntry; found: FoundSecretId | undefined }> {
  const { role } = await roleOf(request);
  const secretId = checkSecretId(stringField(request, 'secret_id'));
  const hash = await context.hasher.hash(request.storage, 'secret_id', {
    value: secretId,
    create: false,
  });
  const found = await findSecretId(request.storage, role.name, hash);
  return { role, found: found?.entry.incarnation === role.incarnation ? found : undefined };
}

function notFound(what: string): CoreError {
  return new CoreError(
    CoreErrorCode.notFound,
    `Check the ${what}: the role has no such live secret_id`,
  );
}

function lookupResponse(request: BackendRequest, found: FoundSecretId | undefined, what: string) {
  if (found === undefined || secretIdExpired(found.entry, request.nowMs)) {
    throw notFound(what);
  }
  return { data: secretIdResponseData(found.entry) };
}

async function listAccessors(request: BackendRequest): Promise<BackendResponse> {
  const { role } = await roleOf(request);
  const prefix = accessorPrefix(role.name);
  const keys = await listAll(request.storage, prefix);
  return { data: { keys: keys.map((key) => key.slice(prefix.length)) } };
}

async function destroyByAccessor(request: BackendRequest): Promise<BackendResponse> {
  const { role } = await roleOf(request);
  const accessor = accessorOf(request);
  const found = await findByAccessor(request.storage, role.name, accessor);
  const operations: WriteOperation[] =
    found === undefined
      ? [{ kind: 'delete', key: accessorKey(role.name, accessor) }]
      : deleteSecretIdOperations(found.hash, found.entry);
  await request.storage.write({ operations });
  return {};
}

const secretIdField = { secret_id: { type: FieldType.string, description: 'The secret_id' } };
const accessorField = {
  secret_id_accessor: { type: FieldType.string, description: 'The accessor of a secret_id' },
};

/** The secret_id routes, sharing `context`. */
export function secretIdRoutes(context: AppRoleContext): Route[] {
  return [
    {
      pattern: 'role/:role_name/secret-id',
      fields: issueFieldSpecs,
      operations: {
        update: (request) => issueSecretId(context, request, randomUUID()),
        list: listAccessors,
      },
    },
    {
      pattern: 'role/:role_name/custom-secret-id',
      fields: { ...issueFieldSpecs, ...secretIdField },
      operations: {
        update: (request) => issueSecretId(context, request, stringField(request, 'secret_id')),
      },
    },
    {
      pattern: 'role/:role_name/secret-id/lookup',
      fields: secretIdField,
      operations: {
        update: async (request) => {
          const { found } = await findBySecretId(context, request);
          return lookupResponse(request, found, 'secret_id');
        },
      },
    },
    {
      pattern: 'role/:role_name/secret-id/destroy',
      fields: secretIdField,
      operations: {
        update: async (request) => {
          const { found } = await findBySecretId(context, request);
          if (found !== undefined) {
            await request.storage.write({
              operations: deleteSecretIdOperations(found.hash, found.entry),
            });
          }
          return {};
        },
      },
    },
    {
      pattern: 'role/:role_name/secret-id-accessor/lookup',
      fields: accessorField,
      operations: {
        update: async (request) => {
          const { role } = await roleOf(request);
          const accessor = accessorOf(request);
          const found = await findByAccessor(request.storage, role.name, accessor);
          const live = found?.entry.incarnation === role.incarnation ? found : undefined;
          return lookupResponse(request, live, 'secret_id_accessor');
        },
      },
    },
    {
      pattern: 'role/:role_name/secret-id-accessor/destroy',
      fields: accessorField,
      operations: { update: destroyByAccessor },
    },
  ];
}
