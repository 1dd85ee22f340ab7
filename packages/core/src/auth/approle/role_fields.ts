/**
 * The fields of `role/:role_name` and how a write turns them into role settings: defaults on
 * create, only the given fields on update (Vault's semantics), then the checks Vault makes —
 * valid CIDRs, no negative counts, token_ttl within token_max_ttl, `service` tokens only, no
 * `root` policy, and at least one login constraint (bind_secret_id or a CIDR binding).
 */
import { CoreError, CoreErrorCode } from '../../errors.ts';
import { FieldType, type FieldSpec, type FieldValues } from '../../router/fields.ts';
import { requestedPolicies } from '../../token/token_policies.ts';
import { parseCidrs } from './cidr.ts';
import type { RoleEntry } from './role_entry.ts';

/** The settings of a role a write can change (everything but its name and identity). */
export type RoleSettings = Omit<RoleEntry, 'name' | 'roleId' | 'incarnation'>;

/** Fields of `role/:role_name` writes. No defaults here: absent means "keep" on update. */
export const roleFieldSpecs: Readonly<Record<string, FieldSpec>> = {
  role_id: { type: FieldType.string, description: 'A custom role_id (default: a random UUID)' },
  bind_secret_id: { type: FieldType.bool, description: 'Require a secret_id at login' },
  secret_id_bound_cidrs: { type: FieldType.strings, description: 'CIDRs allowed to log in' },
  secret_id_num_uses: { type: FieldType.int, description: 'Logins per secret_id; 0: unlimited' },
  secret_id_ttl: { type: FieldType.duration, description: 'Lifetime of a secret_id; 0: none' },
  token_ttl: { type: FieldType.duration, description: 'TTL of issued tokens' },
  token_max_ttl: { type: FieldType.duration, description: 'Max TTL of issued tokens' },
  token_policies: { type: FieldType.strings, description: 'Policies of issued tokens' },
  policies: { type: FieldType.strings, description: 'Deprecated: token_policies' },
  token_bound_cidrs: { type: FieldType.strings, description: 'CIDRs issued tokens work from' },
  token_num_uses: { type: FieldType.int, description: 'Uses of issued tokens; 0: unlimited' },
  token_period: { type: FieldType.duration, description: 'Period of periodic tokens' },
  token_type: { type: FieldType.string, description: '"service" (or "default")' },
};

const defaults: RoleSettings = {
  bindSecretId: true,
  secretIdBoundCidrs: [],
  secretIdNumUses: 0,
  secretIdTtlSeconds: 0,
  tokenTtlSeconds: 0,
  tokenMaxTtlSeconds: 0,
  tokenPolicies: [],
  tokenBoundCidrs: [],
  tokenNumUses: 0,
  tokenPeriodSeconds: 0,
};

function refuse(message: string): CoreError {
  return new CoreError(CoreErrorCode.invalidRequest, message);
}

function count(fields: FieldValues, name: string, current: number): number {
  const value = fields[name];
  if (value === undefined) {
    return current;
  }
  if (typeof value !== 'number' || value < 0) {
    throw refuse(`Send 0 or a positive integer for "${name}"`);
  }
  return value;
}

function seconds(fields: FieldValues, name: string, current: number): number {
  const value = fields[name];
  return typeof value === 'number' ? value : current;
}

function strings(fields: FieldValues, name: string): readonly string[] | undefined {
  const value = fields[name];
  return Array.isArray(value) ? value.map(String) : undefined;
}

/**
 * Checked (as `policy write` checks a name), trimmed, lower-cased (as the token store names
 * policies), deduplicated, sorted policy names; refuses `root` in any case (a login never makes
 * root).
 */
export function normalizePolicies(names: readonly string[]): string[] {
  const policies = requestedPolicies(names);
  if (policies.includes('root')) {
    throw refuse('Remove the "root" policy from the role: a login never issues a root token');
  }
  return policies;
}

function checkTokenType(fields: FieldValues): void {
  const type = fields['token_type'];
  if (type !== undefined && type !== 'service' && type !== 'default') {
    throw refuse('Set "token_type" to "service": AppRole issues service tokens only');
  }
}

function checkSettings(settings: RoleSettings): RoleSettings {
  if (settings.tokenMaxTtlSeconds > 0 && settings.tokenTtlSeconds > settings.tokenMaxTtlSeconds) {
    throw refuse('Lower "token_ttl" to at most "token_max_ttl"');
  }
  if (
    !settings.bindSecretId &&
    settings.secretIdBoundCidrs.length === 0 &&
    settings.tokenBoundCidrs.length === 0
  ) {
    throw refuse(
      'Enable "bind_secret_id" or set "secret_id_bound_cidrs" or "token_bound_cidrs": a role needs at least one login constraint',
    );
  }
  return settings;
}

/**
 * The settings after a write: `current` (an existing role) or the defaults (a new one), with
 * the given fields applied and checked. Refuses invalid values with COFFER_CORE_INVALID_REQUEST.
 */
export function applyRoleFields(
  current: RoleSettings | undefined,
  fields: FieldValues,
): RoleSettings {
  const base = current ?? defaults;
  checkTokenType(fields);
  const policies = strings(fields, 'token_policies') ?? strings(fields, 'policies');
  const secretCidrs = strings(fields, 'secret_id_bound_cidrs');
  const tokenCidrs = strings(fields, 'token_bound_cidrs');
  const bind = fields['bind_secret_id'];
  return checkSettings({
    bindSecretId: typeof bind === 'boolean' ? bind : base.bindSecretId,
    secretIdBoundCidrs:
      secretCidrs === undefined
        ? base.secretIdBoundCidrs
        : parseCidrs(secretCidrs, 'secret_id_bound_cidrs'),
    secretIdNumUses: count(fields, 'secret_id_num_uses', base.secretIdNumUses),
    secretIdTtlSeconds: seconds(fields, 'secret_id_ttl', base.secretIdTtlSeconds),
    tokenTtlSeconds: seconds(fields, 'token_ttl', base.tokenTtlSeconds),
    tokenMaxTtlSeconds: seconds(fields, 'token_max_ttl', base.tokenMaxTtlSeconds),
    tokenPolicies: policies === undefined ? base.tokenPolicies : normalizePolicies(policies),
    tokenBoundCidrs:
      tokenCidrs === undefined ? base.tokenBoundCidrs : parseCidrs(tokenCidrs, 'token_bound_cidrs'),
    tokenNumUses: count(fields, 'token_num_uses', base.tokenNumUses),
    tokenPeriodSeconds: seconds(fields, 'token_period', base.tokenPeriodSeconds),
  });
}
