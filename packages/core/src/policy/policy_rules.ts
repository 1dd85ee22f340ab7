/**
 * Turns the settings of one `path` block into a PathRule, checking every key and value:
 * known keys only, capabilities from the known set, parameter names without non-tail globs,
 * parameter values that are scalars, wrapping TTLs as durations with min <= max.
 *
 * Invariant: the returned rule satisfies the PathRule invariants of policy_types.ts.
 */
import { parseDurationSeconds } from '../router/fields.ts';
import { compilePattern } from './path_pattern.ts';
import { policyInvalid, quote } from './policy_error.ts';
import type { SyntaxNode, SyntaxPathBlock } from './policy_syntax.ts';
import {
  Capability,
  capabilityNames,
  type ParameterConstraints,
  type ParameterValue,
  type PathRule,
} from './policy_types.ts';

const ruleKeys = [
  'capabilities',
  'required_parameters',
  'allowed_parameters',
  'denied_parameters',
  'min_wrapping_ttl',
  'max_wrapping_ttl',
  'comment',
] as const;
type RuleKey = (typeof ruleKeys)[number];

const refusedKeyHints: Readonly<Record<string, string>> = {
  policy: 'the old "policy" setting is not supported; write capabilities = [...] instead',
  mfa_methods: 'MFA methods in policies are not supported',
  control_group: 'control groups are not supported',
  subscribe_event_types: 'event subscriptions are not supported',
};

type Settings = Partial<Record<RuleKey, { readonly value: SyntaxNode; readonly line: number }>>;

function isRuleKey(key: string): key is RuleKey {
  return (ruleKeys as readonly string[]).includes(key);
}

function collectSettings(block: SyntaxPathBlock, where: string): Settings {
  const settings: Settings = {};
  for (const entry of block.body.entries) {
    if (!isRuleKey(entry.key)) {
      const hint = refusedKeyHints[entry.key] ?? `use ${ruleKeys.join(', ')}`;
      throw policyInvalid(
        entry.line,
        `Remove the setting ${quote(entry.key)} from ${where}: ${hint}`,
      );
    }
    settings[entry.key] = { value: entry.value, line: entry.line };
  }
  return settings;
}

function stringList(node: SyntaxNode, key: string, where: string): string[] {
  if (node.kind !== 'list') {
    throw policyInvalid(
      node.line,
      `Write ${key} in ${where} as a list of strings, such as ["read"]`,
    );
  }
  return node.items.map((item) => {
    if (item.kind !== 'string') {
      throw policyInvalid(item.line, `Write only strings in ${key} of ${where}`);
    }
    return item.value;
  });
}

function parseCapabilities(settings: Settings, where: string, line: number): Capability[] {
  const setting = settings.capabilities;
  if (setting === undefined) {
    throw policyInvalid(
      line,
      `Add capabilities = [...] to ${where}: a rule without capabilities grants nothing`,
    );
  }
  const names = stringList(setting.value, 'capabilities', where);
  if (names.length === 0) {
    throw policyInvalid(
      setting.line,
      `List at least one capability in ${where} (use ["deny"] to refuse)`,
    );
  }
  const capabilities = new Set<Capability>();
  for (const name of names) {
    const capability = capabilityNames.find((c) => c === name);
    if (capability === undefined) {
      throw policyInvalid(
        setting.line,
        `Replace the unknown capability ${quote(name)} in ${where}: use ${capabilityNames.join(', ')}`,
      );
    }
    capabilities.add(capability);
  }
  return capabilities.has(Capability.deny) ? [Capability.deny] : [...capabilities].sort();
}

interface NameContext {
  readonly key: string;
  readonly where: string;
  readonly line: number;
}

function checkParameterName(name: string, context: NameContext): string {
  const { key, where, line } = context;
  if (name === '') {
    throw policyInvalid(line, `Name the parameter in ${key} of ${where}: "" is not a name`);
  }
  if (name.startsWith('/')) {
    throw policyInvalid(
      line,
      `Name a top-level parameter in ${key} of ${where}: nested (JSON pointer) parameters are not supported`,
    );
  }
  if (name.includes('*') && (name !== '*' || key === 'required_parameters')) {
    throw policyInvalid(
      line,
      `Remove the "*" from the parameter ${quote(name)} in ${key} of ${where}: only the whole key "*" may be a glob, and not in required_parameters`,
    );
  }
  return name.toLowerCase();
}

function parameterValue(node: SyntaxNode, key: string, where: string): ParameterValue {
  if (node.kind === 'string' || node.kind === 'number' || node.kind === 'bool') {
    return node.value;
  }
  throw policyInvalid(
    node.line,
    `Write only strings, numbers or booleans as values in ${key} of ${where}`,
  );
}

function parseConstraints(
  setting: Settings['allowed_parameters'],
  key: 'allowed_parameters' | 'denied_parameters',
  where: string,
): ParameterConstraints | undefined {
  if (setting === undefined) {
    return undefined;
  }
  if (setting.value.kind !== 'object') {
    throw policyInvalid(
      setting.line,
      `Write ${key} in ${where} as an object: { "name" = ["value"] }`,
    );
  }
  const constraints = new Map<string, readonly ParameterValue[]>();
  for (const entry of setting.value.entries) {
    const name = checkParameterName(entry.key, { key, where, line: entry.line });
    if (constraints.has(name)) {
      throw policyInvalid(
        entry.line,
        `Remove the repeated parameter ${quote(name)} (names ignore case) from ${key} of ${where}`,
      );
    }
    if (entry.value.kind !== 'list') {
      throw policyInvalid(
        entry.line,
        `Write the values of ${quote(entry.key)} in ${key} of ${where} as a list ([] for any value)`,
      );
    }
    const values = entry.value.items.map((item) => parameterValue(item, key, where));
    if (name === '*' && values.length > 0) {
      throw policyInvalid(
        entry.line,
        `Write "*" = [] in ${key} of ${where}: the "*" parameter takes no values`,
      );
    }
    constraints.set(name, values);
  }
  return constraints;
}

function parseRequired(setting: Settings['required_parameters'], where: string): string[] {
  if (setting === undefined) {
    return [];
  }
  const names = stringList(setting.value, 'required_parameters', where).map((name) =>
    checkParameterName(name, { key: 'required_parameters', where, line: setting.line }),
  );
  return [...new Set(names)];
}

function parseTtl(setting: Settings['min_wrapping_ttl'], key: string, where: string): number {
  if (setting === undefined) {
    return 0;
  }
  const node = setting.value;
  if (node.kind !== 'string' && node.kind !== 'number') {
    throw policyInvalid(
      setting.line,
      `Write ${key} in ${where} as a duration, such as "90s" or 90`,
    );
  }
  try {
    return parseDurationSeconds(node.value, key);
  } catch (error) {
    throw policyInvalid(
      setting.line,
      `Write ${key} in ${where} as a duration of at most 100 years, such as "90s", "15m" or 90`,
      error,
    );
  }
}

function parseComment(setting: Settings['comment'], where: string): void {
  if (setting !== undefined && setting.value.kind !== 'string') {
    throw policyInvalid(setting.line, `Write the comment of ${where} as a string`);
  }
}

/** Validates one path block into a rule; throws COFFER_CORE_POLICY_INVALID. */
export function compileRule(block: SyntaxPathBlock): PathRule {
  const pattern = compilePattern(block.pattern, block.line).pattern;
  const where = `path ${quote(pattern)}`;
  const settings = collectSettings(block, where);
  const capabilities = parseCapabilities(settings, where, block.line);
  parseComment(settings.comment, where);
  const minWrappingTtlSeconds = parseTtl(settings.min_wrapping_ttl, 'min_wrapping_ttl', where);
  const maxWrappingTtlSeconds = parseTtl(settings.max_wrapping_ttl, 'max_wrapping_ttl', where);
  if (
    minWrappingTtlSeconds > 0 &&
    maxWrappingTtlSeconds > 0 &&
    maxWrappingTtlSeconds < minWrappingTtlSeconds
  ) {
    throw policyInvalid(block.line, `Make max_wrapping_ttl at least min_wrapping_ttl in ${where}`);
  }
  return {
    pattern,
    capabilities,
    requiredParameters: parseRequired(settings.required_parameters, where),
    allowedParameters: parseConstraints(settings.allowed_parameters, 'allowed_parameters', where),
    deniedParameters: parseConstraints(settings.denied_parameters, 'denied_parameters', where),
    minWrappingTtlSeconds,
    maxWrappingTtlSeconds,
    line: block.line,
  };
}
