/**
 * `subkeys/<path>`: the key structure of a version without its values (READ, `version` and
 * `depth`). Every leaf becomes null; with depth N > 0, objects at level N are leaves too.
 * As for `data/`, a missing secret or version is COFFER_CORE_NOT_FOUND and a deleted or
 * destroyed one answers `{ subkeys: null, metadata }` with a warning.
 */
import { CoreError, CoreErrorCode } from '../../errors.ts';
import type { BackendRequest, BackendResponse, Route } from '../../router/backend.ts';
import { FieldType, isPlainObject } from '../../router/fields.ts';
import { versionBlock } from './kv_format.ts';
import { readVersion } from './kv_read.ts';
import { parseReadVersion, secretPath } from './kv_request.ts';

/** The keys of `data` down to `depth` levels (0: all), every value replaced by null. */
export function subkeysOf(
  data: Readonly<Record<string, unknown>>,
  depth: number,
): Record<string, unknown> {
  // NB: fromEntries defines own properties, so a key named "__proto__" stays a plain key.
  return Object.fromEntries(
    Object.entries(data).map(([name, value]) => [
      name,
      isPlainObject(value) && depth !== 1 ? subkeysOf(value, Math.max(0, depth - 1)) : null,
    ]),
  );
}

function parseDepth(value: unknown): number {
  if (value === undefined) {
    return 0;
  }
  if (typeof value !== 'number' || value < 0) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      'Send depth as 0 (no limit) or a positive level',
    );
  }
  return value;
}

async function readSubkeys(request: BackendRequest): Promise<BackendResponse> {
  const depth = parseDepth(request.fields['depth']);
  const found = await readVersion(request.storage, secretPath(request), {
    version: parseReadVersion(request.fields['version']),
    nowMs: request.nowMs,
  });
  switch (found.kind) {
    case 'missing':
      throw new CoreError(
        CoreErrorCode.notFound,
        'Check the path and version: no such secret version exists',
      );
    case 'gone':
      return {
        data: {
          subkeys: null,
          metadata: versionBlock(found.metadata, found.version, found.record),
        },
        warnings: [`Version ${found.version} is deleted or destroyed: it has no subkeys`],
      };
    case 'live':
      return {
        data: {
          subkeys: subkeysOf(found.stored.data, depth),
          metadata: versionBlock(found.metadata, found.version, found.record),
        },
      };
  }
}

/** The `subkeys/*path` route. */
export const kvSubkeysRoute: Route = {
  pattern: 'subkeys/*path',
  fields: {
    version: { type: FieldType.int, description: 'The version; 0 = current' },
    depth: { type: FieldType.int, description: 'Levels to show; 0 = all' },
  },
  operations: { read: readSubkeys },
};
