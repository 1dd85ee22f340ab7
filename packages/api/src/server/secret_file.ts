/**
 * Reads a secret the config names by file (a join token): the file must be readable by its
 * owner only, as for the PKCS#11 PIN, and its content is never echoed in an error.
 */
import { readFile, stat } from 'node:fs/promises';

import { ApiError, ApiErrorCode } from '../errors.ts';

/** The trimmed text of the secret file at `path`; `field` names it in errors. */
export async function readSecretFile(path: string, field: string): Promise<string> {
  let mode: number;
  let text: string;
  try {
    mode = (await stat(path)).mode & 0o777;
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ApiError(
      ApiErrorCode.configInvalid,
      `${field}: cannot read "${path}" (${typeof code === 'string' ? code : 'unknown error'}); check the path`,
      { cause: error },
    );
  }
  if ((mode & 0o077) !== 0) {
    throw new ApiError(
      ApiErrorCode.configInvalid,
      `${field}: "${path}" is readable by others (mode 0${mode.toString(8)}); chmod 600 it`,
    );
  }
  return text.trim();
}
