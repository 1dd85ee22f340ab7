/**
 * Goal: over random policies and random request paths (with `..`, `//`, `%2e`, trailing `/`,
 * leading `/`, fullwidth solidus U+FF0F, Cyrillic а, decomposed accents, literal `*` and `+`),
 * the Acl (1) never allows a request that no rule of its policies names, (2) lets deny win:
 * denying every pattern of a policy refuses everything, (3) decides exactly as an independent
 * reference model of Vault's matching and priority rules, (4) does not depend on policy order,
 * and (5) refuses every non-canonical path.
 * Method: SeededRandom from @coffer/raft/testing, fixed seeds; the reference model matches
 * with regular expressions built from the patterns and orders them by the five documented
 * priority rules.
 */
import { SeededRandom } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import type { Operation } from '../router/request.ts';
import { Acl } from './acl.ts';
import { compilePattern } from './path_pattern.ts';
import { parsePolicy } from './policy_parser.ts';
import type { Policy } from './policy_types.ts';
import { isCanonicalPath } from './text_checks.ts';

const operations: readonly Operation[] = ['create', 'read', 'update', 'patch', 'delete', 'list'];
const granting = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo'] as const;
const patternSegments = ['a', 'b', 'ab', 'secret', 'x', '\u0430', 'é', '+', 'a\uff0fb'];
const pathSegments = [
  ...patternSegments.filter((s) => s !== '+'),
  'a\uff0f',
  '..',
  '.',
  '%2e',
  '%2e%2e',
  '',
  'e\u0301',
  '*',
  '+',
  'a b',
  'abc',
];

interface RandomRule {
  readonly pattern: string;
  readonly capabilities: readonly string[];
}

function randomPattern(random: SeededRandom): string {
  const count = 1 + random.int(4);
  const segments = Array.from({ length: count }, () => random.pick(patternSegments));
  let pattern = segments.join('/');
  const ending = random.int(5);
  if (ending === 0) {
    pattern += '/*';
  } else if (ending === 1 && !pattern.endsWith('+')) {
    pattern += '*';
  } else if (ending === 2) {
    pattern += '/';
  }
  return random.chance(0.1) ? `/${pattern}` : pattern;
}

function randomCapabilities(random: SeededRandom): string[] {
  if (random.chance(0.15)) {
    return ['deny'];
  }
  const picked = granting.filter(() => random.chance(0.35));
  return picked.length > 0 ? picked : ['read'];
}

function randomRules(random: SeededRandom, count: number): RandomRule[] {
  const rules = new Map<string, RandomRule>();
  for (let i = 0; i < count; i += 1) {
    const pattern = randomPattern(random);
    const key = pattern.replace(/^\//u, '');
    if (!rules.has(key)) {
      rules.set(key, { pattern, capabilities: randomCapabilities(random) });
    }
  }
  return [...rules.values()];
}

function policyOf(name: string, rules: readonly RandomRule[]): Policy {
  const text = rules
    .map(
      (r) =>
        `path ${JSON.stringify(r.pattern)} { capabilities = ${JSON.stringify(r.capabilities)} }`,
    )
    .join('\n');
  return parsePolicy(name, text);
}

function randomPath(random: SeededRandom): string {
  const count = 1 + random.int(5);
  let path = Array.from({ length: count }, () => random.pick(pathSegments)).join(
    random.chance(0.05) ? '//' : '/',
  );
  if (random.chance(0.25)) {
    path += '/';
  }
  return random.chance(0.05) ? `/${path}` : path;
}

// ---- The reference model, written from the documentation, not from acl.ts. ----

interface RefRule {
  readonly pattern: string;
  readonly regex: RegExp;
  readonly exact: boolean;
  readonly key: readonly [number, number, number, number, string];
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
}

function refRule(written: string): RefRule {
  const pattern = written.replace(/^\//u, '');
  const prefix = pattern.endsWith('*');
  const body = prefix ? pattern.slice(0, -1) : pattern;
  const source = body
    .split('/')
    .map((s) => (s === '+' ? '[^/]*' : escapeRegex(s)))
    .join('/');
  const regex = new RegExp(`^${source}${prefix ? '.*' : ''}$`, 'su');
  const plus = pattern.indexOf('+');
  const exact = !prefix && plus === -1;
  const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
  // Rule 1: first wildcard later is higher; 2: not a prefix is higher; 3: fewer `+` is higher;
  // 4: longer is higher; 5: lexicographically greater is higher.
  const first = plus !== -1 ? bytes(pattern.slice(0, plus)) : prefix ? bytes(body) : Infinity;
  const pluses = body.split('/').filter((s) => s === '+').length;
  return { pattern, regex, exact, key: [first, prefix ? 0 : 1, -pluses, bytes(body), body] };
}

function higher(a: RefRule, b: RefRule): boolean {
  for (let i = 0; i < 4; i += 1) {
    const x = a.key[i] as number;
    const y = b.key[i] as number;
    if (x !== y) {
      return x > y;
    }
  }
  return Buffer.compare(Buffer.from(a.key[4]), Buffer.from(b.key[4])) > 0;
}

class ReferenceAcl {
  readonly #rules: RefRule[] = [];
  readonly #caps = new Map<string, Set<string>>();

  constructor(policies: readonly (readonly RandomRule[])[]) {
    for (const rules of policies) {
      for (const r of rules) {
        const ref = refRule(r.pattern);
        let caps = this.#caps.get(ref.pattern);
        if (caps === undefined) {
          caps = new Set();
          this.#caps.set(ref.pattern, caps);
          this.#rules.push(ref);
        }
        for (const c of r.capabilities) {
          caps.add(c);
        }
      }
    }
  }

  #exact(path: string): RefRule | undefined {
    return this.#rules.find((r) => r.exact && r.pattern === path);
  }

  #best(path: string): RefRule | undefined {
    let best: RefRule | undefined;
    for (const r of this.#rules) {
      if (!r.exact && r.regex.test(path) && (best === undefined || higher(r, best))) {
        best = r;
      }
    }
    return best;
  }

  /** Vault's lookup order: exact, exact without the list slash, glob without it, glob. */
  winner(rawPath: string, operation: Operation): RefRule | undefined {
    const path = rawPath.replace(/^\/+/u, '');
    const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
    const list = operation === 'list';
    return (
      this.#exact(path) ??
      (list ? this.#exact(trimmed) : undefined) ??
      (list && trimmed !== path ? this.#best(trimmed) : undefined) ??
      this.#best(path)
    );
  }

  allows(path: string, operation: Operation): boolean {
    if (!isCanonicalPath(path)) {
      return false;
    }
    const winner = this.winner(path, operation);
    const caps = winner === undefined ? undefined : this.#caps.get(winner.pattern);
    return caps !== undefined && !caps.has('deny') && caps.has(operation);
  }
}

function namesPath(rules: readonly RandomRule[], path: string, operation: Operation): boolean {
  const bare = path.replace(/^\/+/u, '');
  const candidates =
    operation === 'list' && bare.endsWith('/') ? [bare, bare.slice(0, -1)] : [bare];
  return rules.some(
    (r) =>
      r.capabilities.includes(operation) &&
      candidates.some((c) => refRule(r.pattern).regex.test(c)),
  );
}

const seeds = [1, 7, 42, 1234, 99991];

describe('Acl properties over random policies and paths', () => {
  it.each(seeds)('Acl never allows a path outside its rules (seed %i)', (seed) => {
    const random = new SeededRandom(seed);
    const leaks: string[] = [];
    for (let round = 0; round < 80; round += 1) {
      const rules = randomRules(random, 1 + random.int(8));
      const acl = Acl.fromPolicies([policyOf('a', rules)]);
      for (let i = 0; i < 40; i += 1) {
        const path = randomPath(random);
        const operation = random.pick(operations);
        if (
          acl.check({ operation, path }).allowed &&
          !(isCanonicalPath(path) && namesPath(rules, path, operation))
        ) {
          leaks.push(`${operation} ${path}`);
        }
      }
    }
    expect(leaks).toEqual([]);
  });

  it.each(seeds)('Acl decides exactly as the reference model (seed %i)', (seed) => {
    const random = new SeededRandom(seed);
    const mismatches: string[] = [];
    const outcomes = { allowed: 0, refused: 0 };
    for (let round = 0; round < 80; round += 1) {
      const policies = [
        randomRules(random, 1 + random.int(6)),
        randomRules(random, 1 + random.int(5)),
      ];
      const acl = Acl.fromPolicies(policies.map((rules, i) => policyOf(`p${i}`, rules)));
      const reference = new ReferenceAcl(policies);
      const patterns = policies
        .flat()
        .map((r) => r.pattern.replace(/^\//u, '').replace(/\*$/u, 'zz'));
      for (let i = 0; i < 40; i += 1) {
        // Half the paths are built from the patterns themselves, so that rules do match.
        const path = random.chance(0.5)
          ? random.pick(patterns).replaceAll('+', random.pick(['a', 'q']))
          : randomPath(random);
        const operation = random.pick(operations);
        const expected = reference.allows(path, operation);
        if (acl.check({ operation, path }).allowed !== expected) {
          mismatches.push(`${operation} ${path}`);
        }
        outcomes[expected ? 'allowed' : 'refused'] += 1;
      }
    }
    expect(mismatches).toEqual([]);
    // Both outcomes are exercised, not just refusals.
    expect(outcomes.allowed).toBeGreaterThan(100);
    expect(outcomes.refused).toBeGreaterThan(100);
  });

  it.each(seeds)(
    'Acl lets deny win: denying every pattern of a policy refuses all (seed %i)',
    (seed) => {
      const random = new SeededRandom(seed);
      const leaks: string[] = [];
      for (let round = 0; round < 60; round += 1) {
        const rules = randomRules(random, 1 + random.int(8));
        const denied = rules.map((r) => ({ pattern: r.pattern, capabilities: ['deny'] }));
        const policies = [policyOf('a', rules), policyOf('d', denied)];
        for (const acl of [Acl.fromPolicies(policies), Acl.fromPolicies([...policies].reverse())]) {
          for (let i = 0; i < 20; i += 1) {
            const path = random.chance(0.5)
              ? random.pick(rules).pattern.replace(/\*$/u, 'x')
              : randomPath(random);
            const request = { operation: random.pick(operations), path, sudo: random.chance(0.5) };
            if (acl.check(request).allowed || acl.capabilities(path).join() !== 'deny') {
              leaks.push(`${request.operation} ${path}`);
            }
          }
        }
      }
      expect(leaks).toEqual([]);
    },
  );

  it.each(seeds)('Acl does not depend on the order of its policies (seed %i)', (seed) => {
    const random = new SeededRandom(seed);
    const differences: string[] = [];
    for (let round = 0; round < 60; round += 1) {
      const policies = [0, 1, 2].map((i) =>
        policyOf(`p${i}`, randomRules(random, 1 + random.int(5))),
      );
      const forward = Acl.fromPolicies(policies);
      const backward = Acl.fromPolicies([...policies].reverse());
      for (let i = 0; i < 20; i += 1) {
        const path = randomPath(random);
        const operation = random.pick(operations);
        const a = JSON.stringify([forward.check({ operation, path }), forward.capabilities(path)]);
        const b = JSON.stringify([
          backward.check({ operation, path }),
          backward.capabilities(path),
        ]);
        if (a !== b) {
          differences.push(`${operation} ${path}: ${a} vs ${b}`);
        }
      }
    }
    expect(differences).toEqual([]);
  });

  it('Acl refuses non-canonical and look-alike paths even under a catch-all rule', () => {
    const acl = Acl.fromPolicies([
      policyOf('a', [{ pattern: 'secret/a/*', capabilities: ['read'] }]),
    ]);
    for (const path of [
      'secret/a/../b',
      'secret/a/./b',
      'secret/a//b',
      'secret/a/%2e%2e/b',
      'secret/a/b\u0000',
      'secret/a/e\u0301',
    ]) {
      expect(acl.check({ operation: 'read', path }).allowed, path).toBe(false);
    }
    for (const path of ['secret\uff0fa/b', 'secret/\u0430/b', 'secret/a\uff0fb', 'Secret/a/b']) {
      expect(acl.check({ operation: 'read', path }).allowed, path).toBe(false);
    }
    expect(acl.check({ operation: 'read', path: 'secret/a/b' }).allowed).toBe(true);
    const everything = Acl.fromPolicies([
      policyOf('all', [{ pattern: '*', capabilities: ['read'] }]),
    ]);
    expect(everything.check({ operation: 'read', path: 'x/../y' }).allowed).toBe(false);
    expect(everything.check({ operation: 'read', path: 'x/y' }).allowed).toBe(true);
  });

  it('compilePattern accepts literal look-alikes as ordinary characters', () => {
    expect(compilePattern('secret/a\uff0fb/*', 1).wildcardCount).toBe(0);
    expect(compilePattern('secret/\u0430/+', 1).wildcardCount).toBe(1);
  });
});
