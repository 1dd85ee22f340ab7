/**
 * The permissions of one path pattern after merging every policy of a token (Vault's
 * ACLPermissions and NewACL merge): capabilities union, except that `deny` on the pattern in
 * any policy leaves only `deny`; required parameters union; allowed and denied parameters
 * merge per name (an empty list, meaning any value, wins; otherwise values append); wrapping
 * TTLs keep the lowest value set.
 *
 * Invariant: when capabilities holds `deny` it holds nothing else, and the parameter maps are
 * empty.
 */
import type { PathPattern } from './path_pattern.ts';
import { Capability, type ParameterValue, type PathRule } from './policy_types.ts';

/** Merged, mutable while the ACL is built; read-only afterwards. */
export interface Permissions {
  readonly pattern: PathPattern;
  readonly capabilities: Set<Capability>;
  readonly requiredParameters: string[];
  allowedParameters: Map<string, readonly ParameterValue[]> | undefined;
  deniedParameters: Map<string, readonly ParameterValue[]> | undefined;
  minWrappingTtlSeconds: number;
  maxWrappingTtlSeconds: number;
}

/** Fresh permissions for the first rule on a pattern. */
export function permissionsOf(pattern: PathPattern, rule: PathRule): Permissions {
  return {
    pattern,
    capabilities: new Set(rule.capabilities),
    requiredParameters: [...rule.requiredParameters],
    allowedParameters:
      rule.allowedParameters === undefined ? undefined : new Map(rule.allowedParameters),
    deniedParameters:
      rule.deniedParameters === undefined ? undefined : new Map(rule.deniedParameters),
    minWrappingTtlSeconds: rule.minWrappingTtlSeconds,
    maxWrappingTtlSeconds: rule.maxWrappingTtlSeconds,
  };
}

function lowestSet(existing: number, added: number): number {
  return added > 0 && (existing === 0 || added < existing) ? added : existing;
}

function mergeConstraints(
  existing: Map<string, readonly ParameterValue[]> | undefined,
  added: ReadonlyMap<string, readonly ParameterValue[]> | undefined,
): Map<string, readonly ParameterValue[]> | undefined {
  if (added === undefined || added.size === 0) {
    return existing;
  }
  if (existing === undefined) {
    return new Map(added);
  }
  for (const [name, values] of added) {
    const current = existing.get(name);
    const anyValue = values.length === 0 || (current !== undefined && current.length === 0);
    existing.set(name, anyValue ? [] : [...values, ...(current ?? [])]);
  }
  return existing;
}

/** Merges another policy's rule on the same pattern into permissions. */
export function mergeRule(permissions: Permissions, rule: PathRule): void {
  if (permissions.capabilities.has(Capability.deny)) {
    return;
  }
  if (rule.capabilities.includes(Capability.deny)) {
    permissions.capabilities.clear();
    permissions.capabilities.add(Capability.deny);
    permissions.allowedParameters = undefined;
    permissions.deniedParameters = undefined;
    return;
  }
  for (const capability of rule.capabilities) {
    permissions.capabilities.add(capability);
  }
  permissions.maxWrappingTtlSeconds = lowestSet(
    permissions.maxWrappingTtlSeconds,
    rule.maxWrappingTtlSeconds,
  );
  permissions.minWrappingTtlSeconds = lowestSet(
    permissions.minWrappingTtlSeconds,
    rule.minWrappingTtlSeconds,
  );
  permissions.allowedParameters = mergeConstraints(
    permissions.allowedParameters,
    rule.allowedParameters,
  );
  permissions.deniedParameters = mergeConstraints(
    permissions.deniedParameters,
    rule.deniedParameters,
  );
  for (const name of rule.requiredParameters) {
    if (!permissions.requiredParameters.includes(name)) {
      permissions.requiredParameters.push(name);
    }
  }
}
