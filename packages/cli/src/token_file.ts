/**
 * The token file that `coffer login` writes: `$HOME/.coffer-token`, mode 0600, written
 * atomically (a temporary file in the same directory, then rename), so a reader sees the old
 * token or the new one, never half of one. It is not read when group or others can read it.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { CliError, CliErrorCode, systemCodeOf as errorCodeOf } from './errors.ts';

/** The login token file's name inside the home directory. */
export const loginTokenFileName = '.coffer-token';

/** The login token file of a home directory. */
export function loginTokenPath(homeDirectory: string): string {
  return join(homeDirectory, loginTokenFileName);
}

/**
 * The token in the login token file, or undefined when there is none. Throws
 * COFFER_CLI_TOKEN_FILE_INSECURE when group or others may read the file.
 */
export async function maybeReadLoginToken(path: string): Promise<string | undefined> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (error) {
    if (errorCodeOf(error) === 'ENOENT') {
      return undefined;
    }
    throw unreadable(path, error);
  }
  if ((mode & 0o077) !== 0) {
    throw new CliError(
      CliErrorCode.tokenFileInsecure,
      `Run "chmod 600 ${path}" or log in again: the token file is readable by group or others ` +
        `(mode ${(mode & 0o777).toString(8)}), so it was not used`,
    );
  }
  return readTokenFile(path);
}

/** The token in a file named by `--token-file` (trimmed); undefined when the file is empty. */
export async function readTokenFile(path: string): Promise<string | undefined> {
  try {
    const token = (await readFile(path, 'utf8')).trim();
    return token === '' ? undefined : token;
  } catch (error) {
    throw unreadable(path, error);
  }
}

function unreadable(path: string, cause: unknown): CliError {
  return new CliError(
    CliErrorCode.fileUnreadable,
    `Check the token file "${path}" and its permissions: reading it failed (${errorCodeOf(cause)})`,
    { cause },
  );
}

/** Writes the login token file with mode 0600, atomically. */
export async function writeLoginToken(path: string, token: string): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, `${token}\n`, { mode: 0o600, flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new CliError(
      CliErrorCode.tokenFileWriteFailed,
      `Check that "${path}" is writable, or log in with --no-store: writing the token file ` +
        `failed (${errorCodeOf(error)})`,
      { cause: error },
    );
  }
}
