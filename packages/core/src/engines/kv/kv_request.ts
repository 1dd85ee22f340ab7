/**
 * What the KV handlers take from a request beyond the router's field parsing: the secret path,
 * the check-and-set option, and version lists. Every refusal is COFFER_CORE_INVALID_REQUEST
 * (or COFFER_CORE_CAS_MISMATCH for a check-and-set that does not hold) and names no secret
 * value.
 */
import { CoreError, CoreErrorCode } from '../../errors.ts';
import type { BackendRequest } from '../../router/backend.ts';
import { isPlainObject } from '../../router/fields.ts';
import { casRequired, type KvConfig, type KvMetadata } from './kv_model.ts';

/** The secret path of a `<prefix>/*path` route. */
export function secretPath(request: BackendRequest): string {
  const path = request.params['path'];
  if (path === undefined || path === '') {
    throw new CoreError(CoreErrorCode.invalidRequest, 'Send a secret path after the prefix');
  }
  return path;
}

/** The `options.cas` of a write: undefined when not sent. */
export function parseCas(options: unknown): number | undefined {
  if (options === undefined || options === null) {
    return undefined;
  }
  if (!isPlainObject(options)) {
    throw new CoreError(CoreErrorCode.invalidRequest, 'Send options as a JSON object');
  }
  const unknown = Object.keys(options).filter((name) => name !== 'cas');
  if (unknown.length > 0) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      `Remove the unknown option ${JSON.stringify((unknown[0] ?? '').slice(0, 64))}: options takes cas`,
    );
  }
  const cas = options['cas'];
  if (cas === undefined || cas === null) {
    return undefined;
  }
  const number =
    typeof cas === 'number' ? cas : typeof cas === 'string' && /^\d+$/.test(cas) ? Number(cas) : -1;
  if (!Number.isSafeInteger(number) || number < 0) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      'Send options.cas as a whole number: the current version, or 0 for a new secret',
    );
  }
  return number;
}

/** Refuses a write whose check-and-set does not hold, or that lacks one where it is required. */
export function checkCas(config: KvConfig, metadata: KvMetadata, cas: number | undefined): void {
  if (cas === undefined) {
    if (casRequired(config, metadata)) {
      throw new CoreError(
        CoreErrorCode.casMismatch,
        'Send options.cas with the current version (0 for a new secret): this secret requires check-and-set',
      );
    }
    return;
  }
  if (cas !== metadata.currentVersion) {
    throw new CoreError(
      CoreErrorCode.casMismatch,
      `Read the secret again and send its current version as options.cas: version ${cas} is not the current one`,
    );
  }
}

/** The `versions` of delete, undelete and destroy: a non-empty list of positive numbers. */
export function parseVersions(value: unknown): number[] {
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    !value.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v > 0)
  ) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      'Send versions as a list of version numbers, each 1 or more',
    );
  }
  return [...new Set(value as number[])];
}

/** The `version` of a read: undefined (the current one) when absent or 0. */
export function parseReadVersion(value: unknown): number | undefined {
  if (value === undefined || value === 0) {
    return undefined;
  }
  if (typeof value !== 'number' || value < 0) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      'Send version as a version number, or 0 for the current version',
    );
  }
  return value;
}
