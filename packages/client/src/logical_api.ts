/** The Logical service (any router path) of {@link CofferClient}. */
import type { LogicalApi } from './client_api.ts';
import { encodeDataJson } from './request_encoding.ts';
import type { UnaryCaller } from './unary_caller.ts';

/** The Logical methods, each one call on `caller`; reads, lists and deletes send no data. */
export function createLogicalApi(caller: UnaryCaller): LogicalApi {
  return {
    read: (path, options) => caller.call('Logical/Read', { path, data_json: '' }, options),
    write: (path, data, options) =>
      caller.call('Logical/Write', { path, data_json: encodeDataJson(data) }, options),
    list: (path, options) => caller.call('Logical/List', { path, data_json: '' }, options),
    delete: (path, options) => caller.call('Logical/Delete', { path, data_json: '' }, options),
    patch: (path, data, options) =>
      caller.call('Logical/Patch', { path, data_json: encodeDataJson(data) }, options),
  };
}
