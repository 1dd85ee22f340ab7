/**
 * The parsed form of a Vault-compatible ACL policy: named rules on path patterns. A Policy is
 * immutable once parsed; the ACL (acl.ts) compiles several into one matcher.
 *
 * Invariant: every PathRule in a Policy has a validated pattern (path_pattern.ts), a non-empty,
 * duplicate-free capability list in which `deny` appears alone, and parameter lists of scalars.
 */

/** What a policy grants on a path (Vault's capabilities). */
export const Capability = {
  create: 'create',
  read: 'read',
  update: 'update',
  patch: 'patch',
  delete: 'delete',
  list: 'list',
  sudo: 'sudo',
  deny: 'deny',
} as const;
/** Union of {@link Capability} values. */
export type Capability = (typeof Capability)[keyof typeof Capability];

/** Every capability name, in Vault's documented order. */
export const capabilityNames: readonly Capability[] = Object.values(Capability);

/** A value a parameter constraint lists: a string (maybe globbed), a number or a boolean. */
export type ParameterValue = string | number | boolean;

/** Parameter constraints by lowercased parameter name; `[]` means any value. */
export type ParameterConstraints = ReadonlyMap<string, readonly ParameterValue[]>;

/** One `path "..." { ... }` block. */
export interface PathRule {
  /** The pattern as written, without a leading `/` (e.g. `secret/+/teamb`, `secret/*`). */
  readonly pattern: string;
  /** Sorted, without duplicates; `['deny']` when the block denies. */
  readonly capabilities: readonly Capability[];
  /** Lowercased names that must be present in the request data. */
  readonly requiredParameters: readonly string[];
  /** Undefined when the block does not set allowed_parameters. */
  readonly allowedParameters: ParameterConstraints | undefined;
  /** Undefined when the block does not set denied_parameters. */
  readonly deniedParameters: ParameterConstraints | undefined;
  /** Seconds; 0 when not set. */
  readonly minWrappingTtlSeconds: number;
  /** Seconds; 0 when not set. */
  readonly maxWrappingTtlSeconds: number;
  /** The 1-based line of the block in the document, for messages. */
  readonly line: number;
}

/** A parsed policy document. */
export interface Policy {
  /** The lowercased policy name. */
  readonly name: string;
  /** The document as written (HCL or JSON). */
  readonly text: string;
  readonly rules: readonly PathRule[];
  /** True only for the built-in `root` policy: it allows everything and has no rules. */
  readonly root: boolean;
}

/** The largest policy document accepted, in UTF-8 bytes. */
export const policyTextSizeBytesMax = 64 * 1024;

/** The most `path` blocks one document may hold. */
export const policyRulesMax = 1024;

/** The longest path pattern accepted, in UTF-16 code units (the router's path limit). */
export const policyPatternLengthMax = 1024;
