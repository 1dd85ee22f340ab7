/**
 * `destroy/<path>`: permanently removes the listed versions' data (UPDATE, `versions`
 * required). Their metadata stays, marked destroyed; reads answer no data for them ever after.
 * Missing or already destroyed versions are left as they are; a missing secret changes nothing.
 */
import type { BackendRequest, BackendResponse, Route } from '../../router/backend.ts';
import { FieldType } from '../../router/fields.ts';
import type { WriteOperation } from '../../router/storage_view.ts';
import { updateVersions } from './kv_model.ts';
import { parseVersions, secretPath } from './kv_request.ts';
import { changeSecret, versionDataKey } from './kv_storage.ts';

async function destroyVersions(request: BackendRequest): Promise<BackendResponse> {
  const path = secretPath(request);
  const versions = parseVersions(request.fields['versions']);
  await changeSecret(request.storage, path, (metadata) => {
    if (metadata === undefined) {
      return Promise.resolve({ result: undefined });
    }
    const updated = updateVersions(metadata, versions, (record) =>
      record.destroyed ? undefined : { ...record, destroyed: true },
    );
    if (updated.changed.length === 0) {
      return Promise.resolve({ result: undefined });
    }
    return Promise.resolve({
      next: updated.metadata,
      operations: updated.changed.map((n): WriteOperation => ({
        kind: 'delete',
        key: versionDataKey(path, n),
      })),
      result: undefined,
    });
  });
  return {};
}

/** The `destroy/*path` route. */
export const kvDestroyRoute: Route = {
  pattern: 'destroy/*path',
  fields: {
    versions: { type: FieldType.ints, description: 'The versions to destroy' },
  },
  operations: { update: destroyVersions, create: destroyVersions },
};
