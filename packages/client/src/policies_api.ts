/** The Policies service (sys/policies/acl/) of {@link CofferClient}. */
import type { PoliciesApi } from './client_api.ts';
import type { UnaryCaller } from './unary_caller.ts';

/** The Policies methods, each one call on `caller`. */
export function createPoliciesApi(caller: UnaryCaller): PoliciesApi {
  return {
    write: (request, options) =>
      caller.call('Policies/Write', { name: request.name, policy: request.policy }, options),
    read: (request, options) => caller.call('Policies/Read', { name: request.name }, options),
    list: (options) => caller.call('Policies/List', {}, options),
    delete: (request, options) => caller.call('Policies/Delete', { name: request.name }, options),
  };
}
