/**
 * Label values of the request series, bounded so that a client cannot grow the metrics without
 * limit (Prometheus keeps one series per label combination). Only three labels exist:
 * operation, mount and code. A value outside the known set becomes "other"; a path never
 * becomes a label, so the metrics never show what a client asked for.
 *
 * Invariant: every label value returned here is one of a fixed set of strings or one of at most
 * `mountLabelsMax` mount paths that passed the mount path pattern.
 */
import assert from 'node:assert/strict';

import { CoreErrorCode, Operation } from '@coffer/core';

import { ApiErrorCode } from '../errors.ts';

/** The label value for anything outside the bounded set. */
export const otherLabel = 'other';

/** The mount label of a request that reached no mount (refused before routing). */
export const noMountLabel = 'none';

/** The code label of a served request. */
export const okCodeLabel = 'ok';

/** How many distinct mount labels one registry keeps before it maps new ones to "other". */
export const mountLabelsMaxDefault = 256;

/** Core's mount path shape (`a/b/`, see mount_table.ts), at most this long. */
const mountPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*\/$/;
const mountLengthMax = 256;

const operations: ReadonlySet<string> = new Set(Object.values(Operation));
const codes: ReadonlySet<string> = new Set([
  okCodeLabel,
  ...Object.values(CoreErrorCode),
  ...Object.values(ApiErrorCode),
]);

/** The operation label: one of the six core operations, else "other". */
export function operationLabel(operation: string): string {
  return operations.has(operation) ? operation : otherLabel;
}

/** The code label: "ok", a known COFFER_CORE_* or COFFER_API_* code, else "other". */
export function codeLabel(code: string): string {
  return codes.has(code) ? code : otherLabel;
}

/**
 * Hands out mount labels: a mount path seen before keeps its label; a new one gets its own
 * label while fewer than `max` are in use, else "other".
 */
export class MountLabels {
  readonly #max: number;
  readonly #seen = new Set<string>();

  constructor(max: number = mountLabelsMaxDefault) {
    assert(Number.isSafeInteger(max) && max >= 0, 'mountLabelsMax is a non-negative integer');
    this.#max = max;
  }

  /** The label for `mount` (undefined: the request reached no mount). */
  label(mount: string | undefined): string {
    if (mount === undefined) {
      return noMountLabel;
    }
    if (this.#seen.has(mount)) {
      return mount;
    }
    if (mount.length > mountLengthMax || !mountPattern.test(mount)) {
      return otherLabel;
    }
    if (this.#seen.size >= this.#max) {
      return otherLabel;
    }
    this.#seen.add(mount);
    return mount;
  }

  /** How many distinct mount labels are in use. */
  get size(): number {
    return this.#seen.size;
  }
}
