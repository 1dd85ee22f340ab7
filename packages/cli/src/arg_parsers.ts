/**
 * Option value parsers for commander: a bad value is a usage error that commander reports
 * (`error: option '--key-shares <n>' argument 'x' is invalid. ...`) with exit code 1.
 */
import { InvalidArgumentError } from 'commander';

/** A whole number ≥ 0. */
export function parseCount(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed)) {
    throw new InvalidArgumentError('Pass a whole number (0 or more).');
  }
  return parsed;
}

/** A comma-separated list of version numbers ≥ 1, as Vault's `-versions=1,2`. */
export function parseVersions(value: string): number[] {
  const versions = value.split(',').map((part) => part.trim());
  if (versions.some((part) => !/^[1-9]\d*$/.test(part))) {
    throw new InvalidArgumentError('Pass versions as comma-separated numbers from 1, e.g. 1,3.');
  }
  return versions.map(Number);
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}
