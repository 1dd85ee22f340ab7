/**
 * Checks a request's top-level data against a rule's required, allowed and denied parameters
 * (Vault's semantics): names compare lowercased; `[]` means any value; string values in a
 * policy glob by prefix (`foo-*`), suffix (`*-foo`) or both (`*foo*`); a request list must have
 * every element allowed and no element denied; a request string is also read as a
 * comma-separated list, as Vault does for list-typed fields.
 *
 * NB: one deliberate difference from Vault: an empty request string or list is not a vacuous
 * match of a populated allowed list; it must match the list itself (fails closed).
 */
import type { RequestData } from '../router/request.ts';
import { quote } from './policy_error.ts';
import type { ParameterConstraints, ParameterValue } from './policy_types.ts';

/** What the parameter check needs of merged permissions. */
export interface ParameterRules {
  readonly requiredParameters: readonly string[];
  readonly allowedParameters: ParameterConstraints | undefined;
  readonly deniedParameters: ParameterConstraints | undefined;
}

/** Vault's GlobbedStringsMatch: `*` at either end (or both) of a policy value is a glob. */
export function globbedStringsMatch(item: string, value: string): boolean {
  if (item.length < 2) {
    return item === value;
  }
  const prefixGlob = item.startsWith('*');
  const suffixGlob = item.endsWith('*');
  if (prefixGlob && suffixGlob) {
    return value.includes(item.slice(1, -1));
  }
  if (prefixGlob) {
    return value.endsWith(item.slice(1));
  }
  if (suffixGlob) {
    return value.startsWith(item.slice(0, -1));
  }
  return item === value;
}

function valueInList(value: unknown, list: readonly ParameterValue[]): boolean {
  return list.some((item) =>
    typeof item === 'string'
      ? typeof value === 'string' && globbedStringsMatch(item, value)
      : item === value,
  );
}

/** The elements of a request value read as a list, or undefined when it is not one. */
function asElements(value: unknown): readonly unknown[] | undefined {
  if (Array.isArray(value)) {
    return value as readonly unknown[];
  }
  if (typeof value === 'string') {
    return value.split(',').map((element) => element.trim());
  }
  return undefined;
}

function valueAllowed(value: unknown, list: readonly ParameterValue[]): boolean {
  if (list.length === 0 || valueInList(value, list)) {
    return true;
  }
  const elements = asElements(value);
  return (
    elements !== undefined &&
    elements.length > 0 &&
    value !== '' &&
    elements.every((element) => valueInList(element, list))
  );
}

function valueDenied(value: unknown, list: readonly ParameterValue[]): boolean {
  if (list.length === 0 || valueInList(value, list)) {
    return true;
  }
  const elements = asElements(value);
  return elements !== undefined && elements.some((element) => valueInList(element, list));
}

function checkDenied(denied: ParameterConstraints, data: RequestData): string | undefined {
  if (denied.has('*')) {
    return 'denied_parameters "*" refuses every parameter';
  }
  for (const [name, value] of Object.entries(data)) {
    const list = denied.get(name.toLowerCase());
    if (list !== undefined && valueDenied(value, list)) {
      return `denied_parameters refuses the parameter ${quote(name)} or its value`;
    }
  }
  return undefined;
}

function checkAllowed(allowed: ParameterConstraints, data: RequestData): string | undefined {
  const allowedAll = allowed.has('*');
  if (allowed.size === 1 && allowedAll) {
    return undefined;
  }
  for (const [name, value] of Object.entries(data)) {
    const list = allowed.get(name.toLowerCase());
    if (list === undefined && !allowedAll) {
      return `allowed_parameters does not list the parameter ${quote(name)}`;
    }
    if (list !== undefined && !valueAllowed(value, list)) {
      return `allowed_parameters does not allow the value of the parameter ${quote(name)}`;
    }
  }
  return undefined;
}

/**
 * Why the data breaks the rules (names only, never values), or undefined when it passes.
 */
export function checkParameters(rules: ParameterRules, data: RequestData): string | undefined {
  for (const name of rules.requiredParameters) {
    if (!Object.hasOwn(data, name)) {
      return `required_parameters needs the parameter ${quote(name)}`;
    }
  }
  if (Object.keys(data).length === 0) {
    return undefined;
  }
  const denied = rules.deniedParameters;
  if (denied !== undefined && denied.size > 0) {
    const reason = checkDenied(denied, data);
    if (reason !== undefined) {
      return reason;
    }
  }
  const allowed = rules.allowedParameters;
  return allowed === undefined || allowed.size === 0 ? undefined : checkAllowed(allowed, data);
}
