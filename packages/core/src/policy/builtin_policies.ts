/**
 * The built-in policies. `root` allows everything; it has no rules, is never stored, and cannot
 * be written or deleted. `default` is attached to tokens unless they opt out: the text below
 * until an operator writes their own (it can be edited, never deleted). `response-wrapping` is
 * held by wrapping tokens and allows nothing but unwrapping; it is hidden (not listed) and
 * cannot be read, written or deleted through the API.
 *
 * Invariant: only rootPolicy has `root: true`; parsePolicy never produces it.
 */
import { parsePolicy } from './policy_parser.ts';
import type { Policy } from './policy_types.ts';

/** The root policy's name. */
export const rootPolicyName = 'root';
/** The default policy's name. */
export const defaultPolicyName = 'default';
/** The response-wrapping policy's name. */
export const responseWrappingPolicyName = 'response-wrapping';

/** Vault's default policy adapted to Coffer's paths (no cubbyhole, no identity, no tools). */
export const defaultPolicyText = `# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
  capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
  capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
  capabilities = ["update"]
}

# Allow a token to look up and renew leases by lease_id in the request body
path "sys/leases/lookup" {
  capabilities = ["update"]
}

path "sys/leases/renew" {
  capabilities = ["update"]
}

# Allow a token to wrap values, and to look up, unwrap and rewrap response-wrapping tokens
path "sys/wrapping/wrap" {
  capabilities = ["update"]
}

path "sys/wrapping/lookup" {
  capabilities = ["update"]
}

path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}

path "sys/wrapping/rewrap" {
  capabilities = ["update"]
}
`;

/** The text of the response-wrapping policy. */
export const responseWrappingPolicyText = `# Wrapping tokens may only unwrap
path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}
`;

/** The root policy: no rules, everything allowed. */
export const rootPolicy: Policy = { name: rootPolicyName, text: '', rules: [], root: true };

/** The default policy as shipped (before an operator edits it). */
export const builtinDefaultPolicy: Policy = parsePolicy(defaultPolicyName, defaultPolicyText);

/** The response-wrapping policy. */
export const responseWrappingPolicy: Policy = parsePolicy(
  responseWrappingPolicyName,
  responseWrappingPolicyText,
);
