/**
 * The role routes of an AppRole mount: `role` (LIST), `role/:role_name` (create, read, update,
 * delete) and `role/:role_name/role-id` (read, and update to set a custom role_id).
 */
import { randomUUID } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../../errors.ts';
import type { BackendRequest, BackendResponse, Route } from '../../router/backend.ts';
import { FieldType } from '../../router/fields.ts';
import { childrenOf, listAll } from '../../router/storage_view.ts';
import type { AppRoleContext } from './approle_context.ts';
import {
  checkRoleName,
  findRole,
  requireRole,
  rolePrefix,
  roleResponseData,
  type RoleEntry,
} from './role_entry.ts';
import { applyRoleFields, roleFieldSpecs } from './role_fields.ts';
import { checkRoleId, deleteRole, writeRole } from './role_store.ts';

function roleNameOf(request: BackendRequest): string {
  return checkRoleName(request.params['role_name'] ?? '');
}

function optionalString(request: BackendRequest, field: string): string | undefined {
  const value = request.fields[field];
  return typeof value === 'string' ? value : undefined;
}

async function listRoles(request: BackendRequest): Promise<BackendResponse> {
  const keys = await listAll(request.storage, rolePrefix);
  return { data: { keys: childrenOf(rolePrefix, keys) } };
}

function writeRoleHandler(context: AppRoleContext) {
  return async (request: BackendRequest): Promise<BackendResponse> => {
    const name = roleNameOf(request);
    const previous = await findRole(request.storage, name);
    const settings = applyRoleFields(previous?.role, request.fields);
    const customRoleId = optionalString(request, 'role_id');
    const role: RoleEntry = {
      ...settings,
      name,
      roleId: checkRoleId(customRoleId ?? previous?.role.roleId ?? randomUUID()),
      incarnation: previous?.role.incarnation ?? randomUUID(),
    };
    await writeRole(request.storage, context.hasher, { role, previous });
    return {};
  };
}

async function readRole(request: BackendRequest): Promise<BackendResponse> {
  const { role } = await requireRole(request.storage, roleNameOf(request));
  return { data: roleResponseData(role) };
}

function deleteRoleHandler(context: AppRoleContext) {
  return async (request: BackendRequest): Promise<BackendResponse> => {
    const found = await findRole(request.storage, roleNameOf(request));
    if (found !== undefined) {
      await deleteRole(request.storage, context.hasher, found);
    }
    return {};
  };
}

async function readRoleId(request: BackendRequest): Promise<BackendResponse> {
  const { role } = await requireRole(request.storage, roleNameOf(request));
  return { data: { role_id: role.roleId } };
}

function writeRoleIdHandler(context: AppRoleContext) {
  return async (request: BackendRequest): Promise<BackendResponse> => {
    const previous = await requireRole(request.storage, roleNameOf(request));
    const roleId = checkRoleId(optionalString(request, 'role_id') ?? '');
    if (roleId !== previous.role.roleId) {
      const role: RoleEntry = { ...previous.role, roleId };
      await writeRole(request.storage, context.hasher, { role, previous });
    }
    return {};
  };
}

async function roleExists(request: BackendRequest): Promise<boolean> {
  const name = request.params['role_name'] ?? '';
  try {
    return (await findRole(request.storage, checkRoleName(name))) !== undefined;
  } catch (error) {
    // An invalid name exists nowhere; the handler refuses it with its own message.
    if (error instanceof CoreError && error.code === CoreErrorCode.invalidRequest) {
      return false;
    }
    throw error;
  }
}

/** The role routes, sharing `context`. */
export function roleRoutes(context: AppRoleContext): Route[] {
  const writeRoleOperation = writeRoleHandler(context);
  const writeRoleIdOperation = writeRoleIdHandler(context);
  return [
    { pattern: 'role', operations: { list: listRoles } },
    {
      pattern: 'role/:role_name',
      fields: roleFieldSpecs,
      exists: roleExists,
      operations: {
        create: writeRoleOperation,
        update: writeRoleOperation,
        read: readRole,
        delete: deleteRoleHandler(context),
      },
    },
    {
      pattern: 'role/:role_name/role-id',
      fields: { role_id: { type: FieldType.string, description: 'The new role_id' } },
      operations: { read: readRoleId, update: writeRoleIdOperation },
    },
  ];
}
