/**
 * How the KV engine shows its records in responses, in Vault's shapes: RFC 3339 times (an empty
 * string for "no deletion time", as Vault answers), Go-style durations ("0s", "1h0m0s"), and
 * the per-version metadata block that writes and reads return.
 */
import type { KvMetadata, KvVersionMetadata } from './kv_model.ts';

/** An instant as RFC 3339 in UTC with milliseconds. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

/** Seconds as Go's time.Duration prints them: "0s", "45s", "1m30s", "1h0m0s", "48h0m0s". */
export function goDuration(seconds: number): string {
  if (seconds === 0) {
    return '0s';
  }
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (hours > 0) {
    return `${hours}h${minutes}m${rest}s`;
  }
  return minutes > 0 ? `${minutes}m${rest}s` : `${rest}s`;
}

/**
 * A copy of the custom metadata: a response never shares an object with the metadata, which
 * reads may take from a cache (kv_storage.ts loadMetadataCached).
 */
function customMetadataBlock(metadata: KvMetadata): Record<string, string> | null {
  return metadata.customMetadata === null ? null : { ...metadata.customMetadata };
}

/** A version record's times as versionBlock shows them. */
interface VersionTimes {
  readonly created: string;
  readonly deletion: string;
}

/**
 * The times of version records, formatted once per record. NB: only frozen records are kept:
 * those of metadata from the cache (kv_storage.ts loadMetadataCached), the same object on every
 * read of that stored version and unable to change, so the text stays exact. Weak: a record
 * goes with its metadata. Strings only, so no response shares an object with the cache.
 */
const versionTimes = new WeakMap<KvVersionMetadata, VersionTimes>();

function timesOf(record: KvVersionMetadata): VersionTimes {
  const known = versionTimes.get(record);
  if (known !== undefined) {
    return known;
  }
  const times = {
    created: rfc3339(record.createdMs),
    deletion: record.deletionMs === null ? '' : rfc3339(record.deletionMs),
  };
  if (Object.isFrozen(record)) {
    versionTimes.set(record, times);
  }
  return times;
}

/** The metadata block of one version (Vault's write response and read `metadata`). */
export function versionBlock(
  metadata: KvMetadata,
  version: number,
  record: KvVersionMetadata,
): Record<string, unknown> {
  const times = timesOf(record);
  return {
    created_time: times.created,
    custom_metadata: customMetadataBlock(metadata),
    deletion_time: times.deletion,
    destroyed: record.destroyed,
    version,
  };
}

/** A key's full metadata as `metadata/<path>` reads it. */
export function metadataBlock(metadata: KvMetadata): Record<string, unknown> {
  const versions: Record<string, unknown> = {};
  for (const [number, record] of Object.entries(metadata.versions)) {
    versions[number] = {
      created_time: rfc3339(record.createdMs),
      deletion_time: record.deletionMs === null ? '' : rfc3339(record.deletionMs),
      destroyed: record.destroyed,
    };
  }
  return {
    cas_required: metadata.casRequired,
    created_time: rfc3339(metadata.createdMs),
    current_version: metadata.currentVersion,
    custom_metadata: customMetadataBlock(metadata),
    delete_version_after: goDuration(metadata.deleteVersionAfterSeconds),
    max_versions: metadata.maxVersions,
    oldest_version: metadata.oldestVersion,
    updated_time: rfc3339(metadata.updatedMs),
    versions,
  };
}
