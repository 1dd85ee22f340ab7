/**
 * Reads one version of a secret for `data/` and `subkeys/`: the metadata, then the version's
 * data. The two reads are not one snapshot, so when the data is gone the metadata is read
 * again (a destroy or trim applied in between) before calling it corruption.
 */
import type { StorageView } from '../../router/storage_view.ts';
import {
  findVersion,
  isDeleted,
  type KvMetadata,
  type KvVersionData,
  type KvVersionMetadata,
} from './kv_model.ts';
import { findVersionData, inconsistent, loadMetadataCached } from './kv_storage.ts';

/** What a read found. */
export type VersionRead =
  /** No such secret, or no such version (never written, or trimmed). */
  | { readonly kind: 'missing' }
  /** The version is deleted or destroyed: metadata only. */
  | {
      readonly kind: 'gone';
      readonly metadata: KvMetadata;
      readonly version: number;
      readonly record: KvVersionMetadata;
    }
  | {
      readonly kind: 'live';
      readonly metadata: KvMetadata;
      readonly version: number;
      readonly record: KvVersionMetadata;
      readonly stored: KvVersionData;
    };

/** How many times a read starts over when writes keep removing the data it is after. */
const readAttemptsMax = 4;

/** Reads `version` (undefined: the current one) of the secret at `path` as of nowMs. */
export async function readVersion(
  storage: StorageView,
  path: string,
  options: { readonly version: number | undefined; readonly nowMs: number },
): Promise<VersionRead> {
  let lastStorageVersion: number | undefined;
  for (let attempt = 0; attempt < readAttemptsMax; attempt++) {
    const loaded = await loadMetadataCached(storage, path);
    const metadata = loaded.value;
    if (metadata === undefined) {
      return { kind: 'missing' };
    }
    if (attempt > 0 && loaded.storageVersion === lastStorageVersion) {
      throw inconsistent();
    }
    lastStorageVersion = loaded.storageVersion;
    const version = options.version ?? metadata.currentVersion;
    const record = findVersion(metadata, version);
    if (record === undefined) {
      return { kind: 'missing' };
    }
    if (record.destroyed || isDeleted(record, options.nowMs)) {
      return { kind: 'gone', metadata, version, record };
    }
    const stored = await findVersionData(storage, path, version);
    if (stored !== undefined) {
      return { kind: 'live', metadata, version, record, stored };
    }
  }
  throw inconsistent();
}
