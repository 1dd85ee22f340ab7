/**
 * Reads a file the user named (a policy, a body, a value) as UTF-8 text, refusing bytes that
 * are not UTF-8 where `readFile(…, 'utf8')` would silently put U+FFFD in their place (a binary
 * secret would be stored corrupted).
 */
import { readFile } from 'node:fs/promises';

import { CliError, CliErrorCode, systemCodeOf } from './errors.ts';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The text of the file at path; `what` names it in errors (e.g. `the policy file "p.hcl"`).
 * Both failures are COFFER_CLI_FILE_UNREADABLE.
 */
export async function readTextFile(path: string, what: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new CliError(
      CliErrorCode.fileUnreadable,
      `Check ${what}: reading it failed (${systemCodeOf(error)})`,
      { cause: error },
    );
  }
  try {
    return strictUtf8.decode(bytes);
  } catch (error) {
    throw new CliError(
      CliErrorCode.fileUnreadable,
      `Save ${what} as UTF-8 text (binary data encoded, e.g. as base64): it is not UTF-8`,
      { cause: error },
    );
  }
}
