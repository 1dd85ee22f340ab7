/**
 * Policy names: lowercased like Vault's, then checked: 1 to 128 characters, no `/` (a name is
 * one path segment of sys/policies/acl/<name>), no `,` (lists of policies are comma-separated
 * strings in many fields), no `%` (the router refuses it in paths), no control characters,
 * not `.` or `..`, no leading or trailing whitespace, NFC.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import { hasControlCharacter, hasLoneSurrogate } from './text_checks.ts';

/** The longest policy name, in UTF-16 code units. */
export const policyNameLengthMax = 128;

function refuse(why: string): CoreError {
  return new CoreError(CoreErrorCode.invalidRequest, `Choose another policy name: ${why}`);
}

/** The normalized (lowercased) name, or COFFER_CORE_INVALID_REQUEST saying what is wrong. */
export function normalizePolicyName(raw: string): string {
  if (typeof raw !== 'string' || raw === '') {
    throw refuse('a name is required');
  }
  const name = raw.toLowerCase();
  if (name.length > policyNameLengthMax) {
    throw refuse(`at most ${policyNameLengthMax} characters`);
  }
  if (hasControlCharacter(name) || hasLoneSurrogate(name)) {
    throw refuse('it contains a control character or invalid text');
  }
  const forbidden = ['/', ',', '%'].find((c) => name.includes(c));
  if (forbidden !== undefined) {
    throw refuse(`it contains "${forbidden}"`);
  }
  if (name.trim() !== name) {
    throw refuse('it starts or ends with whitespace');
  }
  if (name === '.' || name === '..') {
    throw refuse(`"${name}" is not a name`);
  }
  if (name.normalize('NFC') !== name) {
    throw refuse('it is not in Unicode NFC form');
  }
  return name;
}
