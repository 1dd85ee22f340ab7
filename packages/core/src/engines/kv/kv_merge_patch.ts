/**
 * JSON merge patch (RFC 7396), as `PATCH data/<path>` applies it to a version's data: members
 * of the patch replace the target's, a null removes a member, an object merges into an object
 * member recursively, anything else (arrays included) replaces whole.
 */
import { isPlainObject } from '../../router/fields.ts';

/** The target after the patch; neither input is changed. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) {
    return patch;
  }
  const base = isPlainObject(target) ? target : {};
  const result = new Map<string, unknown>(Object.entries(base));
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) {
      result.delete(name);
    } else {
      result.set(name, mergePatch(result.get(name), value));
    }
  }
  return Object.fromEntries(result);
}
