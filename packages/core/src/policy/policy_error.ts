/**
 * The one way the policy parser refuses a document: COFFER_CORE_POLICY_INVALID with the line
 * and what to fix. Messages quote at most a short excerpt of the document (a key, a pattern):
 * a policy is configuration, not a secret, but we keep messages short and single-line.
 */
import { CoreError, CoreErrorCode, quoteInput } from '../errors.ts';

const quotedLengthMax = 80;

/** A short, single-line JSON quote of a piece of the document. */
export function quote(text: string): string {
  return quoteInput(text, quotedLengthMax);
}

/** The error for a problem at a line of the document (1-based; 0 when it has no line). */
export function policyInvalid(line: number, message: string, cause?: unknown): CoreError {
  const where = line > 0 ? ` (line ${line})` : '';
  const text = `${message}${where}`;
  return cause === undefined
    ? new CoreError(CoreErrorCode.policyInvalid, text)
    : new CoreError(CoreErrorCode.policyInvalid, text, { cause });
}
