/**
 * Goal: Acl decides requests as Vault's ACL does: the documentation's path examples, the
 * "Priority matching" rules and examples (and those in Vault's acl.go comments), merging of
 * several policies (same pattern: union, deny wins; different patterns: the most specific
 * wins), sudo, wrapping TTLs, parameter constraints, list paths with a trailing slash, and
 * the built-in policies.
 * Method: small policies parsed from HCL, checked request by request.
 */
import { describe, expect, it } from 'vitest';

import type { Operation, RequestData } from '../router/request.ts';
import { Acl } from './acl.ts';
import { builtinDefaultPolicy, responseWrappingPolicy, rootPolicy } from './builtin_policies.ts';
import { compilePattern, comparePriority } from './path_pattern.ts';
import { parsePolicy } from './policy_parser.ts';

function aclOf(...texts: string[]): Acl {
  return Acl.fromPolicies(texts.map((text, i) => parsePolicy(`p${i}`, text)));
}

/** `request` is "<operation> <path>", e.g. "read secret/foo". */
function allows(acl: Acl, request: string, data?: RequestData): boolean {
  const space = request.indexOf(' ');
  const operation = request.slice(0, space) as Operation;
  const path = request.slice(space + 1);
  return acl.check(data === undefined ? { operation, path } : { operation, path, data }).allowed;
}

function rule(pattern: string, ...capabilities: string[]): string {
  return `path "${pattern}" { capabilities = ${JSON.stringify(capabilities)} }\n`;
}

describe('Acl path matching (documentation examples)', () => {
  const acl = aclOf(
    rule('secret/foo', 'read') + rule('secret/bar/*', 'read') + rule('secret/zip-*', 'read'),
  );

  it.each([
    ['secret/foo', true],
    ['secret/food', false],
    ['secret/foo/bar', false],
    ['secret/bar/zip', true],
    ['secret/bar/zip/zap', true],
    ['secret/bars/zip', false],
    ['secret/zip-zap', true],
    ['secret/zip-zap/zong', true],
    ['secret/zip/zap', false],
  ] as const)('Acl.check reads %s: %s', (path, expected) => {
    expect(allows(acl, `read ${path}`)).toBe(expected);
  });

  it('Acl.check matches "+" as exactly one segment', () => {
    const teams = aclOf(rule('secret/+/teamb', 'read') + rule('secret/+/+/teamb', 'read'));
    expect(allows(teams, 'read secret/foo/teamb')).toBe(true);
    expect(allows(teams, 'read secret/foo/bar/teamb')).toBe(true);
    expect(allows(teams, 'read secret/bar/foo/teamb')).toBe(true);
    expect(allows(teams, 'read secret/a/b/c/teamb')).toBe(false);
    expect(allows(teams, 'read secret/teamb')).toBe(false);
    expect(allows(teams, 'read secret/foo/teamb/x')).toBe(false);
  });

  it('Acl.check lets "secret/foo*" match "secret/foobar" (a glob is a string prefix)', () => {
    expect(allows(aclOf(rule('secret/foo*', 'read')), 'read secret/foobar')).toBe(true);
  });

  it('Acl.check refuses everything outside the rules and every operation not granted', () => {
    const detailed = aclOf(
      rule('secret/*', 'create', 'read', 'update', 'patch', 'delete', 'list') +
        rule('secret/super-secret', 'deny'),
    );
    expect(allows(detailed, 'read secret/a')).toBe(true);
    expect(allows(detailed, 'read secret/super-secret')).toBe(false);
    expect(allows(detailed, 'delete secret/super-secret')).toBe(false);
    expect(allows(detailed, 'read secrets/a')).toBe(false);
    expect(allows(detailed, 'read sys/mounts')).toBe(false);
    const readOnly = aclOf(rule('secret/foo', 'read'));
    expect(readOnly.check({ operation: 'update', path: 'secret/foo' })).toEqual({
      allowed: false,
      reason: 'the rule "secret/foo" does not grant "update"',
    });
    expect(readOnly.check({ operation: 'read', path: 'secret/x' })).toEqual({
      allowed: false,
      reason: 'no policy rule matches the path "secret/x"',
    });
  });
});

describe('Acl priority matching', () => {
  it('Acl.check prefers "secret/*" over "secret/+/+/foo/*" (the documented rule 3 example)', () => {
    const acl = aclOf(rule('secret/*', 'read') + rule('secret/+/+/foo/*', 'update'));
    expect(allows(acl, 'read secret/a/b/foo/c')).toBe(true);
    expect(allows(acl, 'update secret/a/b/foo/c')).toBe(false);
  });

  // Pairs from the priority comments of Vault's acl.go: [winner, loser, a path both match].
  it.each([
    ['foo/a*', 'foo/+', 'foo/ab'],
    ['foo/bar/+/baz', 'foo/+/bar/baz', 'foo/bar/bar/baz'],
    ['foo/+/bar', 'foo/+/ba*', 'foo/x/bar'],
    ['foo/+', 'foo/*', 'foo/x'],
    ['foo/bar/+/baz', 'foo/+/+/baz', 'foo/bar/x/baz'],
    ['foo/+/bar/ba*', 'foo/+/bar/b*', 'foo/x/bar/bax'],
    ['secret/foo/*', 'secret/*', 'secret/foo/bar'],
    ['secret/foo/bar', 'secret/foo/*', 'secret/foo/bar'],
    ['secret/foo/bar', 'secret/+/bar', 'secret/foo/bar'],
    ['secret/a/+', 'secret/+/b', 'secret/a/b'],
  ] as const)('Acl.check prefers %s over %s for %s', (winner, loser, path) => {
    const acl = aclOf(rule(loser, 'update'), rule(winner, 'read'));
    expect(allows(acl, `read ${path}`)).toBe(true);
    expect(allows(acl, `update ${path}`)).toBe(false);
    expect(comparePriority(compilePattern(loser, 1), compilePattern(winner, 1))).toBeLessThan(0);
  });

  it('comparePriority breaks a full tie lexicographically (rule 5), larger wins', () => {
    expect(comparePriority(compilePattern('a/+/b', 1), compilePattern('a/+/c', 1))).toBeLessThan(0);
    expect(comparePriority(compilePattern('a/+/c', 1), compilePattern('a/+/b', 1))).toBeGreaterThan(
      0,
    );
  });

  it('Acl.check lets a more specific allow win over a broader deny (Vault semantics)', () => {
    const acl = aclOf(rule('secret/*', 'deny'), rule('secret/open', 'read'));
    expect(allows(acl, 'read secret/open')).toBe(true);
    expect(allows(acl, 'read secret/other')).toBe(false);
  });
});

describe('Acl merging of several policies', () => {
  it('Acl.fromPolicies unions capabilities of the same pattern', () => {
    const acl = aclOf(rule('secret/*', 'read'), rule('secret/*', 'list'));
    expect(acl.capabilities('secret/x')).toEqual(['list', 'read']);
  });

  it('Acl.fromPolicies keeps deny alone when any policy denies the same pattern, in any order', () => {
    for (const acl of [
      aclOf(rule('secret/*', 'read', 'sudo'), rule('secret/*', 'deny')),
      aclOf(rule('secret/*', 'deny'), rule('secret/*', 'read')),
    ]) {
      expect(allows(acl, 'read secret/x')).toBe(false);
      expect(acl.capabilities('secret/x')).toEqual(['deny']);
    }
  });

  it('Acl.fromPolicies merges parameters: any value wins, values append, required unions', () => {
    const acl = aclOf(
      'path "s/x" { capabilities = ["create"] allowed_parameters = { "a" = ["1"] "b" = [] } required_parameters = ["a"] }',
      'path "s/x" { capabilities = ["create"] allowed_parameters = { "a" = ["2"] "b" = ["only"] } required_parameters = ["b"] }',
    );
    expect(allows(acl, 'create s/x', { a: '1', b: 'anything' })).toBe(true);
    expect(allows(acl, 'create s/x', { a: '2', b: 'anything' })).toBe(true);
    expect(allows(acl, 'create s/x', { a: '3', b: 'anything' })).toBe(false);
    expect(allows(acl, 'create s/x', { a: '1' })).toBe(false);
  });

  it('Acl.fromPolicies keeps the lowest wrapping TTLs set', () => {
    const acl = aclOf(
      'path "s/x" { capabilities = ["read"] max_wrapping_ttl = "90s" }',
      'path "s/x" { capabilities = ["read"] max_wrapping_ttl = "60s" min_wrapping_ttl = "10s" }',
    );
    expect(acl.check({ operation: 'read', path: 's/x', wrapTtlSeconds: 60 }).allowed).toBe(true);
    expect(acl.check({ operation: 'read', path: 's/x', wrapTtlSeconds: 61 }).allowed).toBe(false);
    expect(acl.check({ operation: 'read', path: 's/x', wrapTtlSeconds: 9 }).allowed).toBe(false);
    expect(acl.check({ operation: 'read', path: 's/x' }).allowed).toBe(false);
  });
});

describe('Acl sudo, list paths and capabilities', () => {
  it('Acl.check needs sudo on root-protected routes', () => {
    const plain = aclOf(rule('sys/audit/*', 'update'));
    const sudo = aclOf(rule('sys/audit/*', 'update', 'sudo'));
    expect(plain.check({ operation: 'update', path: 'sys/audit/file', sudo: true }).allowed).toBe(
      false,
    );
    expect(sudo.check({ operation: 'update', path: 'sys/audit/file', sudo: true }).allowed).toBe(
      true,
    );
    expect(sudo.check({ operation: 'read', path: 'sys/audit/file', sudo: true }).allowed).toBe(
      false,
    );
  });

  it('Acl.check matches a list path with or without its trailing slash', () => {
    const acl = aclOf(rule('secret/metadata/app', 'list') + rule('+/sys/policies/acl', 'list'));
    expect(allows(acl, 'list secret/metadata/app/')).toBe(true);
    expect(allows(acl, 'list secret/metadata/app')).toBe(true);
    expect(allows(acl, 'list ns/sys/policies/acl/')).toBe(true);
    expect(allows(acl, 'read secret/metadata/app/')).toBe(false);
  });

  it('Acl.check ignores a leading slash in the request path', () => {
    expect(allows(aclOf(rule('secret/a', 'read')), 'read /secret/a')).toBe(true);
  });

  it('Acl.capabilities answers sorted capabilities, or deny when nothing matches', () => {
    const acl = aclOf(rule('secret/*', 'update', 'read', 'sudo', 'create'));
    expect(acl.capabilities('secret/x')).toEqual(['create', 'read', 'sudo', 'update']);
    expect(acl.capabilities('other')).toEqual(['deny']);
  });
});

describe('Acl parameter constraints', () => {
  const policy = (body: string): Acl =>
    aclOf(
      `path "secret/foo" { capabilities = ["create", "read", "update", "patch", "delete", "list"]\n${body}\n}`,
    );

  it('Acl.check needs required parameters, by their lowercased name', () => {
    const acl = policy('required_parameters = ["Bar", "baz"]');
    expect(allows(acl, 'create secret/foo', { bar: 1, baz: 2 })).toBe(true);
    expect(allows(acl, 'create secret/foo', { bar: 1 })).toBe(false);
    expect(allows(acl, 'create secret/foo')).toBe(false);
    expect(allows(acl, 'delete secret/foo')).toBe(true);
    expect(allows(acl, 'list secret/foo')).toBe(true);
  });

  it('Acl.check allows only listed parameters and values', () => {
    const acl = policy('allowed_parameters = { "foo" = [] "bar" = ["zip", "zap"] }');
    expect(allows(acl, 'create secret/foo', { foo: 'anything', bar: 'zip' })).toBe(true);
    expect(allows(acl, 'create secret/foo', { Bar: 'zap' })).toBe(true);
    expect(allows(acl, 'create secret/foo', { bar: 'zop' })).toBe(false);
    expect(allows(acl, 'create secret/foo', { other: 'x' })).toBe(false);
    expect(allows(acl, 'create secret/foo', {})).toBe(true);
    expect(allows(acl, 'create secret/foo', { bar: ['zip', 'zap'] })).toBe(true);
    expect(allows(acl, 'create secret/foo', { bar: ['zip', 'zop'] })).toBe(false);
    expect(allows(acl, 'create secret/foo', { bar: 'zip,zap' })).toBe(true);
    expect(allows(acl, 'create secret/foo', { bar: 'zip,zop' })).toBe(false);
  });

  it('Acl.check refuses an empty value for a populated allowed list (fails closed)', () => {
    const acl = policy('allowed_parameters = { "bar" = ["zip"] }');
    expect(allows(acl, 'create secret/foo', { bar: '' })).toBe(false);
    expect(allows(acl, 'create secret/foo', { bar: [] })).toBe(false);
    expect(allows(acl, 'create secret/foo', { bar: { zip: true } })).toBe(false);
  });

  it('Acl.check lets "*" allow other parameters while listed ones stay restricted', () => {
    const acl = policy('allowed_parameters = { "bar" = ["zip", "zap"] "*" = [] }');
    expect(allows(acl, 'create secret/foo', { anything: 1, bar: 'zip' })).toBe(true);
    expect(allows(acl, 'create secret/foo', { anything: 1, bar: 'nope' })).toBe(false);
  });

  it('Acl.check globs parameter values by prefix, suffix and both', () => {
    const acl = policy(
      'allowed_parameters = { "p" = ["foo-*"] "s" = ["*-foo"] "c" = ["*mid*"] "x" = ["*"] }',
    );
    expect(allows(acl, 'create secret/foo', { p: 'foo-1', s: '1-foo', c: 'amidb' })).toBe(true);
    expect(allows(acl, 'create secret/foo', { p: 'bar-1' })).toBe(false);
    expect(allows(acl, 'create secret/foo', { s: '1-bar' })).toBe(false);
    expect(allows(acl, 'create secret/foo', { c: 'amib' })).toBe(false);
    expect(allows(acl, 'create secret/foo', { x: '*' })).toBe(true);
    expect(allows(acl, 'create secret/foo', { x: 'anything' })).toBe(false);
  });

  it('Acl.check shows the documented globbing surprise: comma lists pass a prefix glob', () => {
    const acl = policy('allowed_parameters = { "bar" = ["baz/*"] }');
    expect(allows(acl, 'update secret/foo', { bar: 'baz/quux' })).toBe(true);
    expect(allows(acl, 'update secret/foo', { bar: 'baz/quux,wibble,wobble,wubble' })).toBe(true);
    expect(allows(acl, 'update secret/foo', { bar: 'wibble' })).toBe(false);
  });

  it('Acl.check refuses denied parameters and values, which win over allowed ones', () => {
    const acl = policy(
      'denied_parameters = { "bar" = ["zip", "zap"] "secret" = [] }\nallowed_parameters = { "bar" = [] "*" = [] }',
    );
    expect(allows(acl, 'create secret/foo', { bar: 'other' })).toBe(true);
    expect(allows(acl, 'create secret/foo', { bar: 'zip' })).toBe(false);
    expect(allows(acl, 'create secret/foo', { bar: ['other', 'zap'] })).toBe(false);
    expect(allows(acl, 'create secret/foo', { bar: 'other, zap' })).toBe(false);
    expect(allows(acl, 'create secret/foo', { SECRET: 'x' })).toBe(false);
  });

  it('Acl.check with denied "*" refuses any parameter but not an empty body', () => {
    const acl = policy('denied_parameters = { "*" = [] }');
    expect(allows(acl, 'create secret/foo', { a: 1 })).toBe(false);
    expect(allows(acl, 'create secret/foo', {})).toBe(true);
  });

  it('Acl.check compares boolean values by type (the documented no_store example)', () => {
    const acl = policy(
      'required_parameters = ["no_store"]\ndenied_parameters = { "no_store" = [false, "false"] }',
    );
    expect(allows(acl, 'create secret/foo', { no_store: false, value: 'bar' })).toBe(false);
    expect(allows(acl, 'create secret/foo', { no_store: 'false', value: 'bar' })).toBe(false);
    expect(allows(acl, 'create secret/foo', { no_store: true, value: 'bar' })).toBe(true);
    expect(allows(acl, 'create secret/foo', { value: 'bar' })).toBe(false);
  });

  it('Acl.check never puts a request value in its reason', () => {
    const acl = policy('allowed_parameters = { "password" = ["allowed-value"] }');
    const decision = acl.check({
      operation: 'update',
      path: 'secret/foo',
      data: { password: 'hunter2-secret' },
    });
    expect(decision.allowed).toBe(false);
    expect(JSON.stringify(decision)).not.toContain('hunter2');
  });
});

describe('Acl built-in policies', () => {
  it('Acl of root allows everything, sudo included', () => {
    const acl = Acl.fromPolicies([rootPolicy, builtinDefaultPolicy]);
    expect(acl.root).toBe(true);
    expect(acl.check({ operation: 'delete', path: 'sys/audit/x', sudo: true }).allowed).toBe(true);
    expect(acl.capabilities('anything')).toContain('sudo');
  });

  it('Acl of default allows the self-service paths and nothing else', () => {
    const acl = Acl.fromPolicies([builtinDefaultPolicy]);
    expect(acl.root).toBe(false);
    expect(allows(acl, 'read auth/token/lookup-self')).toBe(true);
    expect(allows(acl, 'update auth/token/renew-self')).toBe(true);
    expect(allows(acl, 'update auth/token/revoke-self')).toBe(true);
    expect(allows(acl, 'update sys/capabilities-self')).toBe(true);
    for (const op of ['wrap', 'lookup', 'unwrap', 'rewrap']) {
      expect(allows(acl, `update sys/wrapping/${op}`)).toBe(true);
    }
    expect(allows(acl, 'update sys/leases/lookup')).toBe(true);
    expect(allows(acl, 'update sys/leases/renew')).toBe(true);
    expect(allows(acl, 'update auth/token/create')).toBe(false);
    expect(allows(acl, 'read cubbyhole/x')).toBe(false);
    expect(allows(acl, 'update sys/policies/acl/default')).toBe(false);
  });

  it('Acl of response-wrapping allows unwrapping only', () => {
    const acl = Acl.fromPolicies([responseWrappingPolicy]);
    expect(allows(acl, 'update sys/wrapping/unwrap')).toBe(true);
    expect(allows(acl, 'update sys/wrapping/lookup')).toBe(false);
    expect(allows(acl, 'read sys/wrapping/unwrap')).toBe(false);
  });

  it('Acl of no policies allows nothing', () => {
    const acl = Acl.fromPolicies([]);
    expect(allows(acl, 'read secret/x')).toBe(false);
    expect(acl.capabilities('secret/x')).toEqual(['deny']);
  });
});
