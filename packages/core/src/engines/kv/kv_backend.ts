/**
 * The KV version 2 secrets engine (Vault's kv-v2): versioned secrets with check-and-set,
 * soft delete, undelete, destroy, per-key metadata and folder listing. One route per API path;
 * the engine keeps no state in memory, so every node serves a mount from storage alone (reads
 * keep decoded metadata only as a cache checked against the stored version: kv_storage.ts).
 */
import { CoreError, CoreErrorCode } from '../../errors.ts';
import type { Backend, MountInfo } from '../../router/backend.ts';
import { kvConfigRoute } from './kv_config.ts';
import { kvDataRoute } from './kv_data.ts';
import { kvDeleteRoute } from './kv_delete.ts';
import { kvDestroyRoute } from './kv_destroy.ts';
import { kvMetadataRoute } from './kv_metadata.ts';
import { kvMetadataRootRoute } from './kv_metadata_list.ts';
import { kvSubkeysRoute } from './kv_subkeys.ts';
import { kvUndeleteRoute } from './kv_undelete.ts';

/**
 * Makes the KV v2 backend of a mount (a BackendFactory). Refuses a mount whose `version`
 * option names another KV version (only version 2 exists in Coffer); no option means 2.
 */
export function createKvBackend(mount: MountInfo): Backend {
  // Config and secrets are reached through each request's storage view.
  const version = mount.options['version'];
  if (version !== undefined && version !== '2') {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      `Enable the kv mount with options version "2": version ${JSON.stringify(version.slice(0, 16))} is not supported`,
    );
  }
  return {
    routes: [
      kvConfigRoute,
      kvDataRoute,
      kvMetadataRootRoute,
      kvMetadataRoute,
      kvDeleteRoute,
      kvUndeleteRoute,
      kvDestroyRoute,
      kvSubkeysRoute,
    ],
  };
}
