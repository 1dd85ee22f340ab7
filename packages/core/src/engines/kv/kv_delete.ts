/**
 * `delete/<path>`: soft-deletes the listed versions (UPDATE, `versions` required). Their data
 * stays until destroyed or trimmed; undelete brings them back. Versions that do not exist, are
 * destroyed or already deleted are left as they are; a missing secret changes nothing.
 */
import type { BackendRequest, BackendResponse, Route } from '../../router/backend.ts';
import { FieldType } from '../../router/fields.ts';
import { isDeleted, updateVersions } from './kv_model.ts';
import { parseVersions, secretPath } from './kv_request.ts';
import { changeSecret } from './kv_storage.ts';

async function deleteVersions(request: BackendRequest): Promise<BackendResponse> {
  const versions = parseVersions(request.fields['versions']);
  await changeSecret(request.storage, secretPath(request), (metadata) => {
    if (metadata === undefined) {
      return Promise.resolve({ result: undefined });
    }
    const updated = updateVersions(metadata, versions, (record) =>
      record.destroyed || isDeleted(record, request.nowMs)
        ? undefined
        : { ...record, deletionMs: request.nowMs },
    );
    return Promise.resolve({
      ...(updated.changed.length > 0 ? { next: updated.metadata } : {}),
      result: undefined,
    });
  });
  return {};
}

/** The `delete/*path` route. */
export const kvDeleteRoute: Route = {
  pattern: 'delete/*path',
  fields: {
    versions: { type: FieldType.ints, description: 'The versions to delete' },
  },
  operations: { update: deleteVersions, create: deleteVersions },
};
