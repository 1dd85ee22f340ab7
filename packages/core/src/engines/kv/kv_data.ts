/**
 * `data/<path>`: a secret's versions. READ returns `{ data, metadata }` of the current version
 * or of `version`; CREATE and UPDATE write a new version (`data` required, `options.cas` for
 * check-and-set); PATCH merges (RFC 7396) into a new version of the current one; DELETE
 * soft-deletes the current version.
 *
 * Choices where Vault answers through HTTP statuses:
 * - A missing secret, or a version never written or trimmed by max_versions, is
 *   COFFER_CORE_NOT_FOUND.
 * - A deleted or destroyed version is not an error: the read answers
 *   `{ data: null, metadata }` with a warning (Vault: the same body with HTTP 404), so clients
 *   see its deletion_time and destroyed flag.
 * - PATCH of a missing secret or of a deleted or destroyed current version is
 *   COFFER_CORE_NOT_FOUND (a failure carries no data).
 * - DELETE of a missing secret, or of a current version already deleted, succeeds and changes
 *   nothing (as Vault's 204).
 *
 * Invariant: a write is one conditional batch (metadata + the new version's data + the
 * trimmed versions' deletions), so two writers never both get version N; a check-and-set is
 * decided against the state the batch is conditioned on.
 */
import { CoreError, CoreErrorCode } from '../../errors.ts';
import type { BackendRequest, BackendResponse, Route } from '../../router/backend.ts';
import { FieldType, isPlainObject } from '../../router/fields.ts';
import { jsonBytes, type WriteOperation } from '../../router/storage_view.ts';
import { versionBlock } from './kv_format.ts';
import { mergePatch } from './kv_merge_patch.ts';
import {
  addVersion,
  emptyMetadata,
  findVersion,
  isDeleted,
  withVersion,
  type KvConfig,
  type KvMetadata,
} from './kv_model.ts';
import { readVersion } from './kv_read.ts';
import { checkCas, parseCas, parseReadVersion, secretPath } from './kv_request.ts';
import {
  changeSecret,
  findVersionData,
  loadConfig,
  metadataKey,
  versionDataKey,
  type RecordChange,
} from './kv_storage.ts';

type Block = Record<string, unknown>;

function secretNotFound(): CoreError {
  return new CoreError(
    CoreErrorCode.notFound,
    'Check the path and version: no such secret version exists',
  );
}

/** The change that adds `data` as the secret's next version. */
function newVersion(
  path: string,
  state: { readonly config: KvConfig; readonly metadata: KvMetadata },
  write: { readonly data: Readonly<Record<string, unknown>>; readonly nowMs: number },
): RecordChange<KvMetadata, Block> {
  const added = addVersion(state.config, state.metadata, write.nowMs);
  const operations: WriteOperation[] = [
    {
      kind: 'put',
      key: versionDataKey(path, added.version),
      value: jsonBytes({ data: write.data }),
    },
    ...added.trimmed.map((n): WriteOperation => ({ kind: 'delete', key: versionDataKey(path, n) })),
  ];
  return {
    next: added.metadata,
    operations,
    result: versionBlock(added.metadata, added.version, added.record),
  };
}

function dataField(request: BackendRequest): Record<string, unknown> {
  const data = request.fields['data'];
  if (data === undefined) {
    throw new CoreError(CoreErrorCode.invalidRequest, 'Send the required field "data"');
  }
  if (!isPlainObject(data)) {
    throw new CoreError(CoreErrorCode.invalidRequest, 'Send data as a JSON object');
  }
  return data;
}

async function readData(request: BackendRequest): Promise<BackendResponse> {
  const found = await readVersion(request.storage, secretPath(request), {
    version: parseReadVersion(request.fields['version']),
    nowMs: request.nowMs,
  });
  switch (found.kind) {
    case 'missing':
      throw secretNotFound();
    case 'gone':
      return {
        data: { data: null, metadata: versionBlock(found.metadata, found.version, found.record) },
        warnings: [
          `Version ${found.version} is ${found.record.destroyed ? 'destroyed' : 'deleted'}: its data is not returned`,
        ],
      };
    case 'live':
      return {
        data: {
          data: found.stored.data,
          metadata: versionBlock(found.metadata, found.version, found.record),
        },
      };
  }
}

async function writeData(request: BackendRequest): Promise<BackendResponse> {
  const path = secretPath(request);
  const data = dataField(request);
  const cas = parseCas(request.fields['options']);
  const result = await changeSecret(request.storage, path, async (current) => {
    const config = await loadConfig(request.storage);
    const metadata = current ?? emptyMetadata(request.nowMs);
    checkCas(config, metadata, cas);
    return newVersion(path, { config, metadata }, { data, nowMs: request.nowMs });
  });
  return { data: result };
}

async function patchData(request: BackendRequest): Promise<BackendResponse> {
  const path = secretPath(request);
  const patch = dataField(request);
  const cas = parseCas(request.fields['options']);
  const result = await changeSecret(request.storage, path, async (metadata) => {
    if (metadata === undefined) {
      throw secretNotFound();
    }
    const config = await loadConfig(request.storage);
    checkCas(config, metadata, cas);
    const version = metadata.currentVersion;
    const record = findVersion(metadata, version);
    if (record === undefined || record.destroyed || isDeleted(record, request.nowMs)) {
      throw new CoreError(
        CoreErrorCode.notFound,
        'Write the secret instead of patching it: its current version is missing, deleted or destroyed',
      );
    }
    const stored = await findVersionData(request.storage, path, version);
    if (stored === undefined) {
      return { readAgain: true };
    }
    const merged = mergePatch(stored.data, patch) as Record<string, unknown>;
    return newVersion(path, { config, metadata }, { data: merged, nowMs: request.nowMs });
  });
  return { data: result };
}

async function deleteData(request: BackendRequest): Promise<BackendResponse> {
  const path = secretPath(request);
  await changeSecret(request.storage, path, (metadata) => {
    const version = metadata?.currentVersion ?? 0;
    const record = metadata === undefined ? undefined : findVersion(metadata, version);
    if (
      metadata === undefined ||
      record === undefined ||
      record.destroyed ||
      isDeleted(record, request.nowMs)
    ) {
      return Promise.resolve({ result: undefined });
    }
    return Promise.resolve({
      next: withVersion(metadata, version, { ...record, deletionMs: request.nowMs }),
      result: undefined,
    });
  });
  return {};
}

/**
 * True when the secret has metadata (a write to it is an update, else a create). NB: only the
 * key's version is read (no decryption, no decoding): the handler that runs next reads and
 * checks the metadata itself, under the condition its write names.
 */
export async function secretExists(request: BackendRequest): Promise<boolean> {
  return (await request.storage.versionOf(metadataKey(secretPath(request)))) !== undefined;
}

/** The `data/*path` route. */
export const kvDataRoute: Route = {
  pattern: 'data/*path',
  fields: {
    data: { type: FieldType.object, description: 'The secret: a JSON object' },
    options: { type: FieldType.object, description: '`cas`: the check-and-set version' },
    version: { type: FieldType.int, description: 'The version a read returns; 0 = current' },
  },
  operations: {
    read: readData,
    create: writeData,
    update: writeData,
    patch: patchData,
    delete: deleteData,
  },
  exists: secretExists,
};
