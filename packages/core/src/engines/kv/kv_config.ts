/**
 * `config`: the mount-wide KV settings. READ answers max_versions, cas_required and
 * delete_version_after ("0s" = never); UPDATE changes only the fields sent.
 *
 * Invariant: max_versions is a non-negative integer (0 = Vault's default of 10).
 */
import { CoreError, CoreErrorCode } from '../../errors.ts';
import type { BackendRequest, BackendResponse, Route } from '../../router/backend.ts';
import { FieldType } from '../../router/fields.ts';
import { goDuration } from './kv_format.ts';
import { kvDefaults, type KvConfig } from './kv_model.ts';
import { changeRecord, kvConfigKey, loadConfig, loadConfigRecord } from './kv_storage.ts';

/** Refuses a negative max_versions (the router's int type allows any sign). */
export function checkMaxVersions(value: unknown): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (typeof value !== 'number' || value < 0) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      'Send max_versions as 0 (the default of 10) or a positive number of versions',
    );
  }
  return value;
}

async function readConfig(request: BackendRequest): Promise<BackendResponse> {
  const config = await loadConfig(request.storage);
  return {
    data: {
      max_versions: config.maxVersions,
      cas_required: config.casRequired,
      delete_version_after: goDuration(config.deleteVersionAfterSeconds),
    },
  };
}

function updatedConfig(current: KvConfig, request: BackendRequest): KvConfig {
  const maxVersions = checkMaxVersions(request.fields['max_versions']);
  const casRequired = request.fields['cas_required'];
  const deleteAfter = request.fields['delete_version_after'];
  return {
    maxVersions: maxVersions ?? current.maxVersions,
    casRequired: typeof casRequired === 'boolean' ? casRequired : current.casRequired,
    deleteVersionAfterSeconds:
      typeof deleteAfter === 'number' ? deleteAfter : current.deleteVersionAfterSeconds,
  };
}

async function writeConfig(request: BackendRequest): Promise<BackendResponse> {
  const storage = request.storage;
  await changeRecord<KvConfig, undefined>(
    storage,
    { key: kvConfigKey, load: () => loadConfigRecord(storage) },
    (current) =>
      Promise.resolve({ next: updatedConfig(current ?? kvDefaults, request), result: undefined }),
  );
  return {};
}

/** The `config` route. */
export const kvConfigRoute: Route = {
  pattern: 'config',
  fields: {
    max_versions: {
      type: FieldType.int,
      description: 'Versions kept per key; 0 means 10',
    },
    cas_required: {
      type: FieldType.bool,
      description: 'Every data write must send options.cas',
    },
    delete_version_after: {
      type: FieldType.duration,
      description: 'Time after which a new version counts as deleted; "0s" means never',
    },
  },
  operations: { read: readConfig, update: writeConfig, create: writeConfig },
};
