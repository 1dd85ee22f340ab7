/** The Mounts service (sys/mounts/, sys/auth/) of {@link CofferClient}. */
import type { MountEnable, MountsApi } from './client_api.ts';
import type { MountEnableRequest } from './generated/coffer/v1/MountEnableRequest.ts';
import type { UnaryCaller } from './unary_caller.ts';

function mountEnableRequest(request: MountEnable): MountEnableRequest {
  return {
    path: request.path,
    type: request.type,
    description: request.description ?? '',
    default_lease_ttl: request.defaultLeaseTtl ?? '',
    max_lease_ttl: request.maxLeaseTtl ?? '',
    options: { ...request.options },
  };
}

/** The Mounts methods, each one call on `caller`. */
export function createMountsApi(caller: UnaryCaller): MountsApi {
  return {
    enableSecrets: (request, options) =>
      caller.call('Mounts/EnableSecrets', mountEnableRequest(request), options),
    disableSecrets: (request, options) =>
      caller.call('Mounts/DisableSecrets', { path: request.path }, options),
    listSecrets: (options) => caller.call('Mounts/ListSecrets', {}, options),
    tune: (request, options) =>
      caller.call(
        'Mounts/Tune',
        {
          path: request.path,
          default_lease_ttl: request.defaultLeaseTtl ?? '',
          max_lease_ttl: request.maxLeaseTtl ?? '',
          description: request.description ?? '',
        },
        options,
      ),
    readTune: (request, options) => caller.call('Mounts/ReadTune', { path: request.path }, options),
    enableAuth: (request, options) =>
      caller.call('Mounts/EnableAuth', mountEnableRequest(request), options),
    disableAuth: (request, options) =>
      caller.call('Mounts/DisableAuth', { path: request.path }, options),
    listAuth: (options) => caller.call('Mounts/ListAuth', {}, options),
  };
}
