/**
 * `metadata/<path>`: a secret's settings and version history. READ answers Vault's metadata
 * (versions, current_version, oldest_version, settings, custom_metadata, times); CREATE and
 * UPDATE set the fields sent (creating the metadata of a secret without versions); PATCH
 * changes the fields sent of an existing secret (custom_metadata merged, null removes a key);
 * DELETE removes the metadata and every version's data for good.
 *
 * NB: a lowered max_versions trims the oldest versions on the next data write, as in Vault.
 * NB: cas_required false while the mount requires check-and-set is kept, with a warning: the
 * mount's setting still applies.
 */
import { CoreError, CoreErrorCode } from '../../errors.ts';
import type { BackendRequest, BackendResponse, Route } from '../../router/backend.ts';
import { FieldType } from '../../router/fields.ts';
import { listAll, type WriteOperation } from '../../router/storage_view.ts';
import { checkMaxVersions } from './kv_config.ts';
import { parseCustomMetadata, patchCustomMetadata } from './kv_custom_metadata.ts';
import { secretExists } from './kv_data.ts';
import { metadataBlock } from './kv_format.ts';
import { emptyMetadata, type KvMetadata } from './kv_model.ts';
import { listMetadata } from './kv_metadata_list.ts';
import { secretPath } from './kv_request.ts';
import { changeSecret, loadConfig, loadMetadataCached, versionDataPrefix } from './kv_storage.ts';

/** The settings a metadata write or patch sent (undefined: unchanged). */
interface SettingsChange {
  readonly maxVersions: number | undefined;
  readonly casRequired: boolean | undefined;
  readonly deleteVersionAfterSeconds: number | undefined;
  /** As sent: a patch's null removes a key. */
  readonly customMetadata: Readonly<Record<string, string | null>> | undefined;
}

function settingsOf(request: BackendRequest, patch: boolean): SettingsChange {
  const {
    cas_required: cas,
    delete_version_after: after,
    custom_metadata: custom,
  } = request.fields;
  return {
    maxVersions: checkMaxVersions(request.fields['max_versions']),
    casRequired: typeof cas === 'boolean' ? cas : undefined,
    deleteVersionAfterSeconds: typeof after === 'number' ? after : undefined,
    customMetadata: custom === undefined ? undefined : parseCustomMetadata(custom, patch),
  };
}

/** The metadata with the settings sent; customMetadata is the complete, checked new map. */
function applySettings(
  metadata: KvMetadata,
  change: SettingsChange,
  customMetadata: Readonly<Record<string, string>> | undefined,
): KvMetadata {
  return {
    ...metadata,
    maxVersions: change.maxVersions ?? metadata.maxVersions,
    casRequired: change.casRequired ?? metadata.casRequired,
    deleteVersionAfterSeconds:
      change.deleteVersionAfterSeconds ?? metadata.deleteVersionAfterSeconds,
    customMetadata: customMetadata ?? metadata.customMetadata,
  };
}

async function casWarnings(
  request: BackendRequest,
  change: SettingsChange,
): Promise<readonly string[]> {
  if (change.casRequired !== false || !(await loadConfig(request.storage)).casRequired) {
    return [];
  }
  return [
    'cas_required is false for this secret, but the mount requires check-and-set: it applies',
  ];
}

async function readMetadata(request: BackendRequest): Promise<BackendResponse> {
  const metadata = (await loadMetadataCached(request.storage, secretPath(request))).value;
  if (metadata === undefined) {
    throw new CoreError(CoreErrorCode.notFound, 'Check the path: no such secret exists');
  }
  return { data: metadataBlock(metadata) };
}

async function writeMetadata(request: BackendRequest): Promise<BackendResponse> {
  const change = settingsOf(request, false);
  if (Object.values(change).every((value) => value === undefined)) {
    return {};
  }
  // A write replaces the whole map; its values are strings (nulls were refused).
  const customMetadata =
    change.customMetadata === undefined
      ? undefined
      : patchCustomMetadata(null, change.customMetadata);
  await changeSecret(request.storage, secretPath(request), (current) =>
    Promise.resolve({
      next: applySettings(current ?? emptyMetadata(request.nowMs), change, customMetadata),
      result: undefined,
    }),
  );
  const warnings = await casWarnings(request, change);
  return warnings.length > 0 ? { warnings } : {};
}

async function patchMetadata(request: BackendRequest): Promise<BackendResponse> {
  const change = settingsOf(request, true);
  await changeSecret(request.storage, secretPath(request), (current) => {
    if (current === undefined) {
      throw new CoreError(
        CoreErrorCode.notFound,
        'Write the metadata instead of patching it: no such secret exists',
      );
    }
    const customMetadata =
      change.customMetadata === undefined
        ? undefined
        : patchCustomMetadata(current.customMetadata, change.customMetadata);
    return Promise.resolve({
      next: applySettings(current, change, customMetadata),
      result: undefined,
    });
  });
  const warnings = await casWarnings(request, change);
  return warnings.length > 0 ? { warnings } : {};
}

async function deleteMetadata(request: BackendRequest): Promise<BackendResponse> {
  const path = secretPath(request);
  await changeSecret(request.storage, path, async (current) => {
    if (current === undefined) {
      return { result: undefined };
    }
    const dataKeys = await listAll(request.storage, versionDataPrefix(path));
    return {
      next: null,
      operations: dataKeys.map((key): WriteOperation => ({ kind: 'delete', key })),
      result: undefined,
    };
  });
  return {};
}

/** The `metadata/*path` route (its LIST is in kv_metadata_list.ts). */
export const kvMetadataRoute: Route = {
  pattern: 'metadata/*path',
  fields: {
    max_versions: { type: FieldType.int, description: "Versions kept; 0 means the mount's" },
    cas_required: { type: FieldType.bool, description: 'Writes must send options.cas' },
    delete_version_after: {
      type: FieldType.duration,
      description: 'Time after which a new version counts as deleted; "0s" means the mount\'s',
    },
    custom_metadata: {
      type: FieldType.object,
      description: 'String values (at most 64 keys); in a patch, null removes a key',
    },
  },
  operations: {
    read: readMetadata,
    create: writeMetadata,
    update: writeMetadata,
    patch: patchMetadata,
    delete: deleteMetadata,
    list: listMetadata,
  },
  exists: secretExists,
};
