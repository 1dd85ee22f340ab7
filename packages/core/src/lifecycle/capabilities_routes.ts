/**
 * `sys/capabilities-self` and `sys/capabilities` (Vault's names): the capabilities a token's
 * policies give on one or more paths, so an operator or a service can check a policy before
 * relying on it. `capabilities` names the token in the request body and needs sudo, since it
 * reveals another token's policies.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { PolicyStore } from '../policy/policy_store.ts';
import type { BackendRequest, BackendResponse, Route } from '../router/backend.ts';
import { FieldType } from '../router/fields.ts';
import { validateRequestPath } from '../router/request_path.ts';
import type { TokenStore } from '../token/token_store.ts';

async function capabilitiesOf(
  policies: PolicyStore,
  names: readonly string[],
  request: BackendRequest,
): Promise<BackendResponse> {
  const paths = [
    ...((request.fields['paths'] as string[] | undefined) ?? []),
    ...(typeof request.fields['path'] === 'string' ? [request.fields['path']] : []),
  ];
  if (paths.length === 0) {
    throw new CoreError(CoreErrorCode.invalidRequest, 'Send "path" or "paths": the paths to check');
  }
  const acl = await policies.acl(names);
  const data: Record<string, unknown> = {};
  for (const raw of paths) {
    const { path } = validateRequestPath(raw);
    data[raw] = acl.root ? ['root'] : acl.capabilities(path);
  }
  const [first] = paths;
  return {
    data: paths.length === 1 && first !== undefined ? { ...data, capabilities: data[first] } : data,
  };
}

/** The capabilities routes of `sys/`. */
export function capabilitiesRoutes(options: {
  readonly policies: PolicyStore;
  readonly tokens: TokenStore;
}): readonly Route[] {
  const fields = {
    path: { type: FieldType.string },
    paths: { type: FieldType.strings },
  };
  return [
    {
      pattern: 'capabilities-self',
      fields,
      operations: {
        update: (request) =>
          capabilitiesOf(options.policies, request.caller?.policies ?? [], request),
      },
    },
    {
      pattern: 'capabilities',
      sudo: true,
      fields: { ...fields, token: { type: FieldType.string, required: true } },
      operations: {
        update: async (request) => {
          const token = await options.tokens.validate(String(request.fields['token']), {
            nowMs: request.nowMs,
          });
          if (token === undefined) {
            throw new CoreError(
              CoreErrorCode.notFound,
              'Check the value of "token": no live token has it',
            );
          }
          return capabilitiesOf(options.policies, token.policies, request);
        },
      },
    },
  ];
}
