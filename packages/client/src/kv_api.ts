/** The Kv service (KV v2 engine) of {@link CofferClient}; the mount defaults to `secret`. */
import type { KvApi, KvTarget } from './client_api.ts';
import { encodeDataJson, kvMountDefault, optionalField } from './request_encoding.ts';
import type { UnaryCaller } from './unary_caller.ts';

function kvPath(target: KvTarget): { mount: string; path: string } {
  return { mount: target.mount ?? kvMountDefault, path: target.path };
}

/** The Kv methods, each one call on `caller`. */
export function createKvApi(caller: UnaryCaller): KvApi {
  return {
    get: (target, options) =>
      caller.call('Kv/Get', { ...kvPath(target), version: target.version ?? 0 }, options),
    put: (target, options) =>
      caller.call(
        'Kv/Put',
        {
          ...kvPath(target),
          data_json: encodeDataJson(target.data),
          ...optionalField('cas', target.cas),
        },
        options,
      ),
    patch: (target, options) =>
      caller.call(
        'Kv/Patch',
        {
          ...kvPath(target),
          data_json: encodeDataJson(target.data),
          ...optionalField('cas', target.cas),
        },
        options,
      ),
    delete: (target, options) =>
      caller.call(
        'Kv/Delete',
        { ...kvPath(target), versions: [...(target.versions ?? [])] },
        options,
      ),
    undelete: (target, options) =>
      caller.call('Kv/Undelete', { ...kvPath(target), versions: [...target.versions] }, options),
    destroy: (target, options) =>
      caller.call('Kv/Destroy', { ...kvPath(target), versions: [...target.versions] }, options),
    list: (target, options) => caller.call('Kv/List', kvPath(target), options),
    readMetadata: (target, options) => caller.call('Kv/ReadMetadata', kvPath(target), options),
    writeMetadata: (target, options) =>
      caller.call(
        'Kv/WriteMetadata',
        {
          ...kvPath(target),
          ...optionalField('max_versions', target.maxVersions),
          ...optionalField('cas_required', target.casRequired),
          ...optionalField('delete_version_after', target.deleteVersionAfter),
          custom_metadata: { ...target.customMetadata },
        },
        options,
      ),
    deleteMetadata: (target, options) => caller.call('Kv/DeleteMetadata', kvPath(target), options),
  };
}
