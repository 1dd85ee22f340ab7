/**
 * parsePolicy: a Vault policy document (HCL or JSON) into a Policy, or COFFER_CORE_POLICY_INVALID
 * naming the line and what to fix. A strict, hand-written parser of exactly the policy grammar
 * (docs/adr/0005-policy-parser.md): it refuses unknown keys, unknown capabilities, repeated
 * keys and paths, misplaced globs and anything it does not understand, because a policy is a
 * security boundary and a silently ignored line is a silently wrong grant.
 *
 * Invariant: parsePolicy returns a Policy or throws a CoreError with code POLICY_INVALID; it
 * never throws anything else, and runs in time linear in the (size-capped) text.
 */
import { policyInvalid, quote } from './policy_error.ts';
import { parseHclDocument } from './policy_hcl.ts';
import { parseJsonDocument } from './policy_json.ts';
import { compileRule } from './policy_rules.ts';
import type { SyntaxPathBlock } from './policy_syntax.ts';
import {
  policyRulesMax,
  policyTextSizeBytesMax,
  type PathRule,
  type Policy,
} from './policy_types.ts';

function parseBlocks(text: string): SyntaxPathBlock[] {
  return /^\s*[{[]/u.test(text) ? parseJsonDocument(text) : parseHclDocument(text);
}

function compileRules(blocks: readonly SyntaxPathBlock[]): PathRule[] {
  if (blocks.length === 0) {
    throw policyInvalid(0, 'Write at least one path "<pattern>" { capabilities = [...] } rule');
  }
  if (blocks.length > policyRulesMax) {
    throw policyInvalid(0, `Split the policy: at most ${policyRulesMax} path rules per policy`);
  }
  const seen = new Map<string, number>();
  return blocks.map((block) => {
    const rule = compileRule(block);
    const earlier = seen.get(rule.pattern);
    if (earlier !== undefined) {
      throw policyInvalid(
        block.line,
        `Merge the rules for path ${quote(rule.pattern)} into one block: it is also written at line ${earlier}`,
      );
    }
    seen.set(rule.pattern, block.line);
    return rule;
  });
}

/** Parses a policy document named `name` (lowercased); throws COFFER_CORE_POLICY_INVALID. */
export function parsePolicy(name: string, text: string): Policy {
  if (typeof text !== 'string') {
    throw policyInvalid(0, 'Send the policy document as a string');
  }
  if (Buffer.byteLength(text, 'utf8') > policyTextSizeBytesMax) {
    throw policyInvalid(0, `Shorten the policy: at most ${policyTextSizeBytesMax} bytes`);
  }
  const rules = compileRules(parseBlocks(text));
  return { name: name.toLowerCase(), text, rules, root: false };
}
