/** The Leases service (sys/leases/) of {@link CofferClient}. */
import type { LeasesApi } from './client_api.ts';
import type { UnaryCaller } from './unary_caller.ts';

/** The Leases methods, each one call on `caller`. */
export function createLeasesApi(caller: UnaryCaller): LeasesApi {
  return {
    lookup: (request, options) =>
      caller.call('Leases/Lookup', { lease_id: request.leaseId }, options),
    renew: (request, options) =>
      caller.call(
        'Leases/Renew',
        { lease_id: request.leaseId, increment: request.increment ?? '' },
        options,
      ),
    revoke: (request, options) =>
      caller.call('Leases/Revoke', { lease_id: request.leaseId }, options),
    revokePrefix: (request, options) =>
      caller.call('Leases/RevokePrefix', { prefix: request.prefix }, options),
  };
}
