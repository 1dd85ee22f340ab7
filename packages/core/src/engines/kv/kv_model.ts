/**
 * The stored records of the KV version 2 engine and the pure rules over them: a key's metadata
 * (its versions and settings), the mount's config, and how a new version is added (versions
 * numbered from 1, the oldest dropped beyond max_versions, a deletion time from
 * delete_version_after).
 *
 * Invariant: `currentVersion` only grows; every number in `versions` is in
 * (oldestTrimmed, currentVersion]; a version absent from `versions` has no stored data.
 * Invariant: a destroyed version has no stored data; a version whose deletion time has passed
 * keeps its data (undelete brings it back) but reads treat it as deleted.
 * NB: times are milliseconds since the epoch from the request's instant, never the local clock.
 */
import { CoreError, CoreErrorCode } from '../../errors.ts';
import { isPlainObject } from '../../router/fields.ts';

/** Vault's default number of versions kept when neither the mount nor the key sets one. */
export const kvDefaultMaxVersions = 10;

/** The mount-wide settings (`config`). */
export interface KvConfig {
  /** Versions kept per key; 0 means {@link kvDefaultMaxVersions}. */
  readonly maxVersions: number;
  readonly casRequired: boolean;
  /** Seconds after which a new version counts as deleted; 0 means never. */
  readonly deleteVersionAfterSeconds: number;
}

/** The config of a mount that never wrote one. */
export const kvDefaults: KvConfig = {
  maxVersions: 0,
  casRequired: false,
  deleteVersionAfterSeconds: 0,
};

/** What the metadata keeps of one version. */
export interface KvVersionMetadata {
  readonly createdMs: number;
  /** When the version is (or was) deleted; null when it is not scheduled for deletion. */
  readonly deletionMs: number | null;
  readonly destroyed: boolean;
}

/** A key's metadata: its settings and its versions. */
export interface KvMetadata {
  readonly currentVersion: number;
  /** Vault's oldest_version: 0 until versions were trimmed, then the oldest kept number. */
  readonly oldestVersion: number;
  /** Versions kept for this key; 0 means the mount's. */
  readonly maxVersions: number;
  readonly casRequired: boolean;
  /** Seconds; 0 means the mount's. */
  readonly deleteVersionAfterSeconds: number;
  /** null until set, as in Vault. */
  readonly customMetadata: Readonly<Record<string, string>> | null;
  readonly createdMs: number;
  readonly updatedMs: number;
  /** By version number (decimal string keys, as JSON has them). */
  readonly versions: Readonly<Record<string, KvVersionMetadata>>;
}

/** The stored data of one version. */
export interface KvVersionData {
  readonly data: Readonly<Record<string, unknown>>;
}

function corrupt(what: string): CoreError {
  return new CoreError(
    CoreErrorCode.internal,
    `Restore the KV ${what} from a backup: the stored record does not decode`,
  );
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isStringMap(value: unknown): value is Record<string, string> {
  return isPlainObject(value) && Object.values(value).every((v) => typeof v === 'string');
}

function isVersionMetadata(value: unknown): value is KvVersionMetadata {
  return (
    isPlainObject(value) &&
    isCount(value['createdMs']) &&
    (value['deletionMs'] === null || isCount(value['deletionMs'])) &&
    typeof value['destroyed'] === 'boolean'
  );
}

/** Checks a config read from storage (STYLE 5.8: check data after a read). */
export function decodeConfig(value: unknown): KvConfig {
  if (
    !isPlainObject(value) ||
    !isCount(value['maxVersions']) ||
    typeof value['casRequired'] !== 'boolean' ||
    !isCount(value['deleteVersionAfterSeconds'])
  ) {
    throw corrupt('config');
  }
  return value as unknown as KvConfig;
}

/** Checks a key's metadata read from storage. */
export function decodeMetadata(value: unknown): KvMetadata {
  const fieldsValid =
    isPlainObject(value) &&
    isCount(value['currentVersion']) &&
    isCount(value['oldestVersion']) &&
    isCount(value['maxVersions']) &&
    typeof value['casRequired'] === 'boolean' &&
    isCount(value['deleteVersionAfterSeconds']) &&
    (value['customMetadata'] === null || isStringMap(value['customMetadata'])) &&
    isCount(value['createdMs']) &&
    isCount(value['updatedMs']) &&
    isPlainObject(value['versions']) &&
    Object.values(value['versions']).every(isVersionMetadata);
  if (!fieldsValid) {
    throw corrupt('metadata');
  }
  return value as unknown as KvMetadata;
}

/** Checks a version's data read from storage. */
export function decodeVersionData(value: unknown): KvVersionData {
  if (!isPlainObject(value) || !isPlainObject(value['data'])) {
    throw corrupt('version data');
  }
  return value as unknown as KvVersionData;
}

/** The metadata of a key that has none yet (a first write, or a metadata write). */
export function emptyMetadata(nowMs: number): KvMetadata {
  return {
    currentVersion: 0,
    oldestVersion: 0,
    maxVersions: 0,
    casRequired: false,
    deleteVersionAfterSeconds: 0,
    customMetadata: null,
    createdMs: nowMs,
    updatedMs: nowMs,
    versions: {},
  };
}

/** The versions a key keeps: its own setting, else the mount's, else Vault's default. */
export function effectiveMaxVersions(config: KvConfig, metadata: KvMetadata): number {
  if (metadata.maxVersions > 0) {
    return metadata.maxVersions;
  }
  return config.maxVersions > 0 ? config.maxVersions : kvDefaultMaxVersions;
}

/** The seconds until a new version counts as deleted: the smaller non-zero setting, or 0. */
export function effectiveDeleteAfterSeconds(config: KvConfig, metadata: KvMetadata): number {
  const settings = [config.deleteVersionAfterSeconds, metadata.deleteVersionAfterSeconds].filter(
    (s) => s > 0,
  );
  return settings.length === 0 ? 0 : Math.min(...settings);
}

/** True when writes to the key must send `options.cas`. */
export function casRequired(config: KvConfig, metadata: KvMetadata): boolean {
  return config.casRequired || metadata.casRequired;
}

/** True when the version counts as deleted at nowMs (its deletion time has come). */
export function isDeleted(version: KvVersionMetadata, nowMs: number): boolean {
  return version.deletionMs !== null && version.deletionMs <= nowMs;
}

/** The version's metadata, or undefined when it was never written or was trimmed. */
export function findVersion(metadata: KvMetadata, version: number): KvVersionMetadata | undefined {
  return Object.hasOwn(metadata.versions, String(version))
    ? metadata.versions[String(version)]
    : undefined;
}

/** Version numbers of a key's kept versions, ascending. */
export function versionNumbers(metadata: KvMetadata): number[] {
  return Object.keys(metadata.versions)
    .map(Number)
    .sort((a, b) => a - b);
}

/** A key's metadata after adding a version, and the versions whose data to drop. */
export interface AddedVersion {
  readonly metadata: KvMetadata;
  readonly version: number;
  readonly record: KvVersionMetadata;
  readonly trimmed: readonly number[];
}

/** Adds a version written at nowMs, trimming the oldest beyond the key's max_versions. */
export function addVersion(config: KvConfig, metadata: KvMetadata, nowMs: number): AddedVersion {
  const version = metadata.currentVersion + 1;
  const deleteAfterSeconds = effectiveDeleteAfterSeconds(config, metadata);
  const record: KvVersionMetadata = {
    createdMs: nowMs,
    deletionMs: deleteAfterSeconds > 0 ? nowMs + deleteAfterSeconds * 1000 : null,
    destroyed: false,
  };
  const keepAbove = version - effectiveMaxVersions(config, metadata);
  const trimmed = versionNumbers(metadata).filter((n) => n <= keepAbove);
  const versions = Object.fromEntries([
    ...Object.entries(metadata.versions).filter(([n]) => Number(n) > keepAbove),
    [String(version), record],
  ]);
  return {
    metadata: {
      ...metadata,
      currentVersion: version,
      oldestVersion:
        keepAbove > 0 ? Math.max(metadata.oldestVersion, keepAbove + 1) : metadata.oldestVersion,
      updatedMs: nowMs,
      versions,
    },
    version,
    record,
    trimmed,
  };
}

/** The metadata with one version's record replaced. */
export function withVersion(
  metadata: KvMetadata,
  version: number,
  record: KvVersionMetadata,
): KvMetadata {
  return { ...metadata, versions: { ...metadata.versions, [String(version)]: record } };
}

/**
 * The metadata with `update` applied to each listed version that exists; `update` returns the
 * new record, or undefined to leave the version as it is. Lists the versions it changed.
 */
export function updateVersions(
  metadata: KvMetadata,
  versions: readonly number[],
  update: (record: KvVersionMetadata) => KvVersionMetadata | undefined,
): { readonly metadata: KvMetadata; readonly changed: readonly number[] } {
  let next = metadata;
  const changed: number[] = [];
  for (const version of versions) {
    const record = findVersion(next, version);
    const updated = record === undefined ? undefined : update(record);
    if (updated !== undefined) {
      next = withVersion(next, version, updated);
      changed.push(version);
    }
  }
  return { metadata: next, changed };
}
