/**
 * The path argument of `coffer kv`, as Vault's kv helper reads it: `secret/app/db` is the
 * secret `app/db` of the KV v2 mount `secret`, unless `--mount` names the mount, in which case
 * the whole argument is the secret's path (`--mount secret app/db`).
 */
import type { KvTarget } from '@coffer/client';

import { CliError, CliErrorCode } from './errors.ts';

function trimSlashes(path: string): string {
  return path.replace(/^\/+/, '').replace(/\/+$/, '');
}

/**
 * The mount and path of a kv argument. `allowEmpty` (list) accepts the mount's root; otherwise
 * an argument without a secret path below the mount is refused.
 */
export function parseKvPath(
  argument: string,
  options: { readonly mount?: string; readonly allowEmpty?: boolean },
): Required<KvTarget> {
  const trimmed = trimSlashes(argument);
  let mount: string;
  let path: string;
  if (options.mount === undefined) {
    const slash = trimmed.indexOf('/');
    mount = slash < 0 ? trimmed : trimmed.slice(0, slash);
    path = slash < 0 ? '' : trimmed.slice(slash + 1);
  } else {
    mount = trimSlashes(options.mount);
    path = trimmed;
  }
  if (mount === '') {
    throw new CliError(
      CliErrorCode.invalidArgument,
      'Name the mount: give a path like secret/app/db, or pass --mount',
    );
  }
  if (path === '' && options.allowEmpty !== true) {
    throw new CliError(
      CliErrorCode.invalidArgument,
      `Name a secret below the mount "${mount}": give a path like ${mount}/app/db`,
    );
  }
  return { mount, path };
}
