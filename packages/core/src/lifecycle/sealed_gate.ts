/**
 * The sealed gate: the first stage of the request router. While the node is sealed, only the
 * seal-status, init, unseal and health endpoints answer; everything else is refused with
 * COFFER_CORE_SEALED before any handler runs, so a sealed node touches no secret (it holds no
 * key to touch one with, and the gate keeps handlers from trying).
 *
 * Paths are matched exactly after trimming slashes: no prefix, no `..`, no case folding, so
 * `sys/unseal/../secret` is not `sys/unseal`.
 */
import { CoreErrorCode } from '../errors.ts';

/** The paths that answer while sealed (Vault's names for the same endpoints). */
export const sealedGatePaths: readonly string[] = [
  'sys/seal-status',
  'sys/init',
  'sys/unseal',
  'sys/health',
  'sys/leader',
];

/** What the gate looks at: the operation (read, write, ...) and the request path. */
export interface GateRequest {
  readonly operation: string;
  readonly path: string;
}

/** The gate's answer: go on, or the sealed refusal to send back. */
export type GateDecision =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: typeof CoreErrorCode.sealed; readonly message: string };

const quotedLengthMax = 64;

function quoted(value: string): string {
  const cut = value.length > quotedLengthMax ? `${value.slice(0, quotedLengthMax)}...` : value;
  return JSON.stringify(cut);
}

/** The path as the gate compares it: slashes trimmed, nothing else changed. */
export function gatePath(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

/** Decides whether `request` may go on, given whether the node is sealed. */
export function gateRequest(
  request: GateRequest,
  options: { readonly sealed: boolean },
): GateDecision {
  if (!options.sealed) {
    return { ok: true };
  }
  if (sealedGatePaths.includes(gatePath(request.path))) {
    return { ok: true };
  }
  return {
    ok: false,
    code: CoreErrorCode.sealed,
    message:
      `Unseal the node first: it is sealed, so ${quoted(request.operation)} on ` +
      `${quoted(request.path)} was not served (only ${sealedGatePaths.join(', ')} answer)`,
  };
}
