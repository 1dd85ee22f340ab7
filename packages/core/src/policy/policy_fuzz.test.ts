/**
 * Goal: parsePolicy is total on hostile input: for thousands of random and mutated documents
 * it returns a Policy that satisfies the PathRule invariants or throws a CoreError with code
 * COFFER_CORE_POLICY_INVALID, never another exception (no TypeError, no RangeError from deep
 * recursion), and it runs in linear time (pathological 64 KiB inputs included).
 * Method: SeededRandom mutations (insert syntax characters, delete, duplicate, swap, truncate)
 * of valid HCL and JSON documents, random token soups, and hand-made worst cases.
 */
import { SeededRandom } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import { CoreError, CoreErrorCode } from '../errors.ts';
import { compilePattern } from './path_pattern.ts';
import { parsePolicy } from './policy_parser.ts';
import { policyTextSizeBytesMax } from './policy_types.ts';

const seedsDocuments = [
  `# comment
path "secret/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}
path "secret/super-secret" { capabilities = ["deny"] }
path "secret/restricted" {
  capabilities = ["create"]
  allowed_parameters = { "foo" = [] "bar" = ["zip", "zap"] }
  denied_parameters = { "baz" = [true, 3] }
  required_parameters = ["foo"]
  min_wrapping_ttl = "1s"
  max_wrapping_ttl = 90
}
/* block */ path "secret/+/teamb" { capabilities = ["read"] } // tail`,
  JSON.stringify({
    path: {
      'secret/*': { capabilities: ['read', 'list'] },
      'secret/+/x': { capabilities: ['update'], allowed_parameters: { a: ['b*'], '*': [] } },
      'sys/wrapping/unwrap': { capabilities: ['update'], max_wrapping_ttl: '5m' },
    },
  }),
];

const fragments = [
  '{',
  '}',
  '[',
  ']',
  '=',
  ',',
  ':',
  '"',
  '\\',
  '#',
  '//',
  '/*',
  '*/',
  '\n',
  ' ',
  '*',
  '+',
  '/',
  'path',
  'capabilities',
  '"read"',
  '"deny"',
  'true',
  '-',
  '1e9',
  '0',
  '\u0000',
  '\u2028',
  '\ud800',
  '\uff0f',
  'а',
  '<<EOF',
  "'",
  '\\u00',
  '\\U0010ffff',
  '"*"',
  '{{',
  '%2e',
  '..',
];

function mutate(random: SeededRandom, text: string): string {
  let result = text;
  const steps = 1 + random.int(4);
  for (let i = 0; i < steps; i += 1) {
    const at = random.int(result.length + 1);
    switch (random.int(5)) {
      case 0:
        result = result.slice(0, at) + random.pick(fragments) + result.slice(at);
        break;
      case 1:
        result = result.slice(0, at) + result.slice(at + 1 + random.int(8));
        break;
      case 2:
        result = result.slice(0, at) + result.slice(at, at + random.int(30)) + result.slice(at);
        break;
      case 3: {
        const other = random.int(result.length + 1);
        const [a, b] = at < other ? [at, other] : [other, at];
        result = result.slice(0, a) + result.slice(b) + result.slice(a, b);
        break;
      }
      default:
        result = result.slice(0, at);
    }
  }
  return result;
}

function soup(random: SeededRandom): string {
  return Array.from({ length: random.int(40) }, () => random.pick(fragments)).join(
    random.chance(0.5) ? ' ' : '',
  );
}

/** Parses and checks the outcome; returns whether a policy came back. */
function parseChecked(text: string): boolean {
  try {
    const policy = parsePolicy('fuzz', text);
    expect(policy.rules.length).toBeGreaterThan(0);
    for (const rule of policy.rules) {
      expect(compilePattern(rule.pattern, rule.line).pattern).toBe(rule.pattern);
      expect(rule.capabilities.length).toBeGreaterThan(0);
      if (rule.capabilities.includes('deny')) {
        expect(rule.capabilities).toEqual(['deny']);
      }
    }
    return true;
  } catch (error) {
    if (!(error instanceof CoreError) || error.code !== CoreErrorCode.policyInvalid) {
      throw new Error(`parsePolicy threw a non-policy error for ${JSON.stringify(text)}`, {
        cause: error,
      });
    }
    return false;
  }
}

describe('parsePolicy fuzzing', () => {
  it('parsePolicy returns a policy or COFFER_CORE_POLICY_INVALID for 6000 mutated documents', () => {
    const random = new SeededRandom(20261125);
    let accepted = 0;
    for (let i = 0; i < 6000; i += 1) {
      const text = random.chance(0.15) ? soup(random) : mutate(random, random.pick(seedsDocuments));
      accepted += parseChecked(text) ? 1 : 0;
    }
    // Some mutations keep documents valid (comments, whitespace): both branches are exercised.
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(6000);
  });

  it.each([
    ['deep lists', `path "a" { capabilities = ${'['.repeat(30000)}`],
    ['deep JSON', '{"path":'.repeat(8000)],
    ['an open comment', `/*${'*'.repeat(60000)}`],
    ['many quotes', '"'.repeat(60000)],
    ['many escapes', `path "${'\\n'.repeat(30000)}" { capabilities = ["read"] }`],
    ['many open blocks', 'path "a" {'.repeat(6000)],
    ['many commas', `path "a" { capabilities = ["read"${','.repeat(60000)}] }`],
    ['a long pattern', `path "${'a/'.repeat(30000)}" { capabilities = ["read"] }`],
    [
      'a long parameter list',
      `path "a" { capabilities = ["read"] allowed_parameters = { "k" = [${'"v",'.repeat(12000)}] } }`,
    ],
  ])('parsePolicy refuses or reads %s within the size limit', (_title, text) => {
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(policyTextSizeBytesMax);
    parseChecked(text);
  });
});
