/**
 * `undelete/<path>`: restores the listed soft-deleted versions (UPDATE, `versions` required),
 * clearing their deletion time (a delete_version_after schedule included, as Vault does).
 * Destroyed or missing versions are left as they are; a missing secret changes nothing.
 */
import type { BackendRequest, BackendResponse, Route } from '../../router/backend.ts';
import { FieldType } from '../../router/fields.ts';
import { updateVersions } from './kv_model.ts';
import { parseVersions, secretPath } from './kv_request.ts';
import { changeSecret } from './kv_storage.ts';

async function undeleteVersions(request: BackendRequest): Promise<BackendResponse> {
  const versions = parseVersions(request.fields['versions']);
  await changeSecret(request.storage, secretPath(request), (metadata) => {
    if (metadata === undefined) {
      return Promise.resolve({ result: undefined });
    }
    const updated = updateVersions(metadata, versions, (record) =>
      record.destroyed || record.deletionMs === null ? undefined : { ...record, deletionMs: null },
    );
    return Promise.resolve({
      ...(updated.changed.length > 0 ? { next: updated.metadata } : {}),
      result: undefined,
    });
  });
  return {};
}

/** The `undelete/*path` route. */
export const kvUndeleteRoute: Route = {
  pattern: 'undelete/*path',
  fields: {
    versions: { type: FieldType.ints, description: 'The versions to undelete' },
  },
  operations: { update: undeleteVersions, create: undeleteVersions },
};
