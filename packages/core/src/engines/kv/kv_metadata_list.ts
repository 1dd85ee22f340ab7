/**
 * LIST `metadata/<folder>` and LIST `metadata` (the mount root): the secrets and sub-folders of
 * a folder, Vault style (`{ keys: ["a", "a/", "b"] }`, folders with a trailing slash). An empty
 * folder is COFFER_CORE_NOT_FOUND, as Vault answers 404.
 */
import { CoreError, CoreErrorCode } from '../../errors.ts';
import type { BackendRequest, BackendResponse, Route } from '../../router/backend.ts';
import { listChildren, metadataKey } from './kv_storage.ts';

/** Lists the folder named by the `path` parameter, or the root without one. */
export async function listMetadata(request: BackendRequest): Promise<BackendResponse> {
  const folder = request.params['path'];
  const prefix =
    folder === undefined || folder === '' ? metadataKey('') : metadataKey(`${folder}/`);
  const keys = await listChildren(request.storage, prefix);
  if (keys.length === 0) {
    throw new CoreError(CoreErrorCode.notFound, 'Check the folder: it holds no secrets');
  }
  return { data: { keys } };
}

/** The `metadata` route: the root listing. */
export const kvMetadataRootRoute: Route = {
  pattern: 'metadata',
  operations: { list: listMetadata },
};
