/** The Audit service (sys/audit/, sys/audit-hash/) of {@link CofferClient}. */
import type { AuditApi } from './client_api.ts';
import type { UnaryCaller } from './unary_caller.ts';

/** The Audit methods, each one call on `caller`. */
export function createAuditApi(caller: UnaryCaller): AuditApi {
  return {
    enable: (request, options) =>
      caller.call(
        'Audit/Enable',
        {
          path: request.path,
          type: request.type,
          description: request.description ?? '',
          options: { ...request.options },
        },
        options,
      ),
    disable: (request, options) => caller.call('Audit/Disable', { path: request.path }, options),
    list: (options) => caller.call('Audit/List', {}, options),
    hash: (request, options) =>
      caller.call('Audit/Hash', { path: request.path, input: request.input }, options),
  };
}
