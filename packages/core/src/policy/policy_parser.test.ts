/**
 * Goal: parsePolicy accepts every example policy of Vault's policy documentation (concepts/
 * policies), in HCL and in the equivalent JSON, into the same rules; and refuses each kind of
 * malformed document with COFFER_CORE_POLICY_INVALID and a message naming the line and the fix.
 * Method: fixtures copied from the documentation (HCL as written there, JSON as the same
 * structure serialized), compared rule by rule; a table of malformed inputs with the expected
 * message fragment.
 */
import { describe, expect, it } from 'vitest';

import { CoreError, CoreErrorCode } from '../errors.ts';
import { parsePolicy } from './policy_parser.ts';
import { policyRulesMax, policyTextSizeBytesMax, type PathRule } from './policy_types.ts';

interface DocFixture {
  readonly title: string;
  readonly hcl: string;
  readonly json: unknown;
}

// Reference: https://developer.hashicorp.com/vault/docs/concepts/policies (examples in order).
const docFixtures: readonly DocFixture[] = [
  {
    title: 'simple read policy',
    hcl: `path "secret/foo" {
  capabilities = ["read"]
}`,
    json: { path: { 'secret/foo': { capabilities: ['read'] } } },
  },
  {
    title: 'detailed policy documented inline',
    hcl: `# This section grants all access on "secret/*". Further restrictions can be
# applied to this broad policy, as shown below.
path "secret/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
}

# Even though we allowed secret/*, this line explicitly denies
# secret/super-secret. This takes precedence.
path "secret/super-secret" {
  capabilities = ["deny"]
}

# Policies can also specify allowed, disallowed, and required parameters. Here
# the key "secret/restricted" can only contain "foo" (any value) and "bar" (one
# of "zip" or "zap").
path "secret/restricted" {
  capabilities = ["create"]
  allowed_parameters = {
    "foo" = []
    "bar" = ["zip", "zap"]
  }
}`,
    json: {
      path: {
        'secret/*': { capabilities: ['create', 'read', 'update', 'patch', 'delete', 'list'] },
        'secret/super-secret': { capabilities: ['deny'] },
        'secret/restricted': {
          capabilities: ['create'],
          allowed_parameters: { foo: [], bar: ['zip', 'zap'] },
        },
      },
    },
  },
  {
    title: 'exact, glob and prefix paths',
    hcl: `# Permit reading only "secret/foo". An attached token cannot read "secret/food"
# or "secret/foo/bar".
path "secret/foo" {
  capabilities = ["read"]
}

# Permit reading everything under "secret/bar". An attached token could read
# "secret/bar/zip", "secret/bar/zip/zap", but not "secret/bars/zip".
path "secret/bar/*" {
  capabilities = ["read"]
}

# Permit reading everything prefixed with "zip-". An attached token could read
# "secret/zip-zap" or "secret/zip-zap/zong", but not "secret/zip/zap
path "secret/zip-*" {
  capabilities = ["read"]
}`,
    json: {
      path: {
        'secret/foo': { capabilities: ['read'] },
        'secret/bar/*': { capabilities: ['read'] },
        'secret/zip-*': { capabilities: ['read'] },
      },
    },
  },
  {
    title: 'segment wildcards',
    hcl: `# Permit reading the "teamb" path under any top-level path under secret/
path "secret/+/teamb" {
  capabilities = ["read"]
}

# Permit reading secret/foo/bar/teamb, secret/bar/foo/teamb, etc.
path "secret/+/+/teamb" {
  capabilities = ["read"]
}`,
    json: {
      path: {
        'secret/+/teamb': { capabilities: ['read'] },
        'secret/+/+/teamb': { capabilities: ['read'] },
      },
    },
  },
  {
    title: 'required_parameters (kv v1 profile)',
    hcl: `# This requires the user to create "secret/profile" with a parameter/key named
# "name" and "id" where kv v1 is enabled at "secret/".
path "secret/profile" {
  capabilities = ["create"]
  required_parameters = ["name", "id"]
}`,
    json: {
      path: { 'secret/profile': { capabilities: ['create'], required_parameters: ['name', 'id'] } },
    },
  },
  {
    title: 'required_parameters (older example)',
    hcl: `path "secret/foo" {
  capabilities = ["create"]
  required_parameters = ["bar", "baz"]
}`,
    json: {
      path: { 'secret/foo': { capabilities: ['create'], required_parameters: ['bar', 'baz'] } },
    },
  },
  {
    title: 'allowed_parameters with any value',
    hcl: `path "auth/userpass/users/*" {
  capabilities = ["update"]
  allowed_parameters = {
    "password" = []
  }
}`,
    json: {
      path: {
        'auth/userpass/users/*': { capabilities: ['update'], allowed_parameters: { password: [] } },
      },
    },
  },
  {
    title: 'allowed_parameters with listed values',
    hcl: `path "transit/keys/*" {
  capabilities = ["create", "update"]
  allowed_parameters = {
    "auto_rotate_period" = ["8h", "24h", "5d"]
  }
}`,
    json: {
      path: {
        'transit/keys/*': {
          capabilities: ['create', 'update'],
          allowed_parameters: { auto_rotate_period: ['8h', '24h', '5d'] },
        },
      },
    },
  },
  {
    title: 'allowed_parameters with "*"',
    hcl: `path "secret/foo" {
  capabilities = ["create"]
  allowed_parameters = {
    "bar" = ["zip", "zap"]
    "*"   = []
  }
}`,
    json: {
      path: {
        'secret/foo': {
          capabilities: ['create'],
          allowed_parameters: { bar: ['zip', 'zap'], '*': [] },
        },
      },
    },
  },
  {
    title: 'denied_parameters with any value',
    hcl: `path "auth/userpass/users/*" {
  capabilities = ["update"]
  denied_parameters = {
    "token_policies" = []
    "policies" = []
  }
}`,
    json: {
      path: {
        'auth/userpass/users/*': {
          capabilities: ['update'],
          denied_parameters: { token_policies: [], policies: [] },
        },
      },
    },
  },
  {
    title: 'denied_parameters with listed values',
    hcl: `path "auth/token/roles/*" {
  capabilities = ["create", "update"]
  denied_parameters = {
    "allowed_policies" = ["admin"]
  }
}`,
    json: {
      path: {
        'auth/token/roles/*': {
          capabilities: ['create', 'update'],
          denied_parameters: { allowed_policies: ['admin'] },
        },
      },
    },
  },
  {
    title: 'denied_parameters "*"',
    hcl: `path "transit/keys/*" {
  capabilities = ["create", "update"]
  denied_parameters = {
    "*" = []
  }
}`,
    json: {
      path: {
        'transit/keys/*': { capabilities: ['create', 'update'], denied_parameters: { '*': [] } },
      },
    },
  },
  {
    title: 'globbed parameter value',
    hcl: `# Only allow a parameter named "bar" with a value starting with "foo-*".
path "secret/foo" {
  capabilities = ["create"]
  allowed_parameters = {
    "bar" = ["foo-*"]
  }
}`,
    json: {
      path: { 'secret/foo': { capabilities: ['create'], allowed_parameters: { bar: ['foo-*'] } } },
    },
  },
  {
    title: 'denied boolean and string values',
    hcl: `# The "no_store" parameter cannot be false
path "secret/foo" {
  capabilities = ["create"]
  denied_parameters = {
    "no_store" = [false, "false"]
  }
}`,
    json: {
      path: {
        'secret/foo': {
          capabilities: ['create'],
          denied_parameters: { no_store: [false, 'false'] },
        },
      },
    },
  },
  {
    title: 'required and denied together',
    hcl: `path "secret/foo" {
  capabilities = ["create"]
  required_parameters = ["no_store"]
  denied_parameters = {
    "no_store" = [false, "false"]
  }
}`,
    json: {
      path: {
        'secret/foo': {
          capabilities: ['create'],
          required_parameters: ['no_store'],
          denied_parameters: { no_store: [false, 'false'] },
        },
      },
    },
  },
  {
    title: 'globbing surprise',
    hcl: `path "secret/foo" {
  capabilities = ["create", "update", "patch"]
  allowed_parameters = {
    "bar" = ["baz/*"]
  }
}`,
    json: {
      path: {
        'secret/foo': {
          capabilities: ['create', 'update', 'patch'],
          allowed_parameters: { bar: ['baz/*'] },
        },
      },
    },
  },
  {
    title: 'wrapping TTLs',
    hcl: `# This effectively makes response wrapping mandatory for this path by setting min_wrapping_ttl to 1 second.
# This also sets this path's wrapped response maximum allowed TTL to 90 seconds.
path "auth/approle/role/my-role/secret-id" {
    capabilities = ["create", "update"]
    min_wrapping_ttl = "1s"
    max_wrapping_ttl = "90s"
}`,
    json: {
      path: {
        'auth/approle/role/my-role/secret-id': {
          capabilities: ['create', 'update'],
          min_wrapping_ttl: '1s',
          max_wrapping_ttl: '90s',
        },
      },
    },
  },
];

// Templated policies (the documentation's identity examples) are refused, not mis-read.
const templatedFixtures: readonly string[] = [
  `path "secret/data/{{identity.entity.id}}/*" {
  capabilities = ["create", "update", "patch", "read", "delete"]
}

path "secret/metadata/{{identity.entity.id}}/*" {
  capabilities = ["list"]
}`,
  `# In the example below, the group ID maps a group and the path
path "secret/data/groups/{{identity.groups.ids.fb036ebc-2f62-4124-9503-42aa7A869741.name}}/*" {
  capabilities = ["create", "update", "patch", "read", "delete"]
}`,
  `path "secret/data/{{identity.entity.aliases.auth_kubernetes_xxxx.metadata.service_account_namespace}}/*" {
  capabilities = ["read"]
}`,
];

function withoutLines(rules: readonly PathRule[]): unknown[] {
  return rules.map((rule) => ({ ...rule, line: 0 }));
}

function refusal(text: string): CoreError {
  try {
    parsePolicy('p', text);
  } catch (error) {
    if (error instanceof CoreError) {
      return error;
    }
    throw error;
  }
  throw new Error(`expected a refusal of ${JSON.stringify(text.slice(0, 60))}`);
}

describe('parsePolicy on the documentation examples', () => {
  it.each(docFixtures)('parsePolicy reads "$title" the same in HCL and JSON', (fixture) => {
    const fromHcl = parsePolicy('Doc', fixture.hcl);
    const fromJson = parsePolicy('doc', JSON.stringify(fixture.json, null, 2));
    expect(fromHcl.name).toBe('doc');
    expect(fromHcl.root).toBe(false);
    expect(fromHcl.text).toBe(fixture.hcl);
    expect(withoutLines(fromHcl.rules)).toEqual(withoutLines(fromJson.rules));
    const patterns = Object.keys((fixture.json as { path: Record<string, unknown> }).path);
    expect(fromHcl.rules.map((rule) => rule.pattern)).toEqual(patterns);
  });

  it('parsePolicy keeps capabilities sorted, parameters lowercased and TTLs in seconds', () => {
    const policy = parsePolicy(
      'p',
      `path "auth/approle/role/my-role/secret-id" {
  capabilities = ["update", "create", "update"]
  min_wrapping_ttl = "1s"
  max_wrapping_ttl = 90
  required_parameters = ["Name"]
  allowed_parameters = { "Bar" = ["zip", 3, true] }
}`,
    );
    const rule = policy.rules[0];
    expect(rule?.capabilities).toEqual(['create', 'update']);
    expect(rule?.minWrappingTtlSeconds).toBe(1);
    expect(rule?.maxWrappingTtlSeconds).toBe(90);
    expect(rule?.requiredParameters).toEqual(['name']);
    expect([...(rule?.allowedParameters ?? [])]).toEqual([['bar', ['zip', 3, true]]]);
    expect(rule?.deniedParameters).toBeUndefined();
    expect(rule?.line).toBe(1);
  });

  it('parsePolicy reduces a rule with deny to deny alone', () => {
    const policy = parsePolicy('p', 'path "a" { capabilities = ["read", "deny", "sudo"] }');
    expect(policy.rules[0]?.capabilities).toEqual(['deny']);
  });

  it('parsePolicy accepts comments of every kind, commas, a comment setting and a leading slash', () => {
    const policy = parsePolicy(
      'p',
      `/* block
comment */ path "/secret/x" { // line comment
  capabilities = ["read",] # hash comment
  comment = "why this rule exists"
  allowed_parameters = { a = [], "b" = ["\\u00e9\\n"], }
}`,
    );
    expect(policy.rules[0]?.pattern).toBe('secret/x');
    expect(policy.rules[0]?.allowedParameters?.get('b')).toEqual(['é\n']);
  });

  it.each(templatedFixtures)('parsePolicy refuses the templated example %#', (text) => {
    const error = refusal(text);
    expect(error.code).toBe(CoreErrorCode.policyInvalid);
    expect(error.message).toMatch(/templated policies are not supported \(line \d+\)/u);
  });

  it('parsePolicy refuses the legacy policy = "..." setting of old documentation', () => {
    const error = refusal('path "sys/*" {\n  policy = "deny"\n}');
    expect(error.message).toMatch(/old "policy" setting is not supported.*\(line 2\)/u);
  });
});

const many = Array.from(
  { length: policyRulesMax + 1 },
  (_, i) => `path "p/${i}" { capabilities = ["read"] }`,
);

const malformed: readonly (readonly [string, string, RegExp])[] = [
  ['empty document', '', /at least one path/u],
  ['only comments', '# nothing\n// here\n', /at least one path/u],
  [
    'unknown capability',
    'path "a" { capabilities = ["reed"] }',
    /unknown capability "reed".*\(line 1\)/u,
  ],
  [
    'unknown key with its line',
    'path "a" {\n  capabilities = ["read"]\n  capabilites = ["list"]\n}',
    /Remove the setting "capabilites".*\(line 3\)/u,
  ],
  [
    'repeated key',
    'path "a" {\n capabilities = ["read"]\n capabilities = ["list"]\n}',
    /repeated key "capabilities".*\(line 3\)/u,
  ],
  [
    'repeated path',
    'path "a/*" { capabilities = ["read"] }\npath "a/*" { capabilities = ["list"] }',
    /Merge the rules for path "a\/\*".*line 1 \(line 2\)/u,
  ],
  [
    'repeated path after slash stripping',
    'path "/a" { capabilities = ["read"] }\npath "a" { capabilities = ["list"] }',
    /Merge the rules/u,
  ],
  ['glob not at the end', 'path "secret/*/foo" { capabilities = ["read"] }', /Move the "\*"/u],
  ['two globs', 'path "secret/**" { capabilities = ["read"] }', /Move the "\*"/u],
  [
    'plus inside a segment',
    'path "secret/fo+o" { capabilities = ["read"] }',
    /Make "\+" a whole segment/u,
  ],
  ['plus then glob', 'path "secret/+*" { capabilities = ["read"] }', /instead of "\+\*"/u],
  ['empty path', 'path "" { capabilities = ["read"] }', /non-empty path/u],
  ['slash only', 'path "/" { capabilities = ["read"] }', /non-empty path/u],
  ['empty segment', 'path "secret//x" { capabilities = ["read"] }', /empty segment/u],
  [
    'dot-dot segment',
    'path "secret/../x" { capabilities = ["read"] }',
    /Remove the "\.\." segment/u,
  ],
  ['dot segment', 'path "secret/./x" { capabilities = ["read"] }', /Remove the "\." segment/u],
  ['percent-encoding', 'path "secret/%2e%2e/x" { capabilities = ["read"] }', /URL-decoded/u],
  ['not NFC', 'path "secret/e\u0301" { capabilities = ["read"] }', /NFC/u],
  [
    'control character by escape',
    'path "secret/\\u0007" { capabilities = ["read"] }',
    /control character/u,
  ],
  [
    'raw control character',
    'path "secret/\u0001" { capabilities = ["read"] }',
    /control character/u,
  ],
  [
    'lone surrogate escape',
    'path "secret/\\ud800" { capabilities = ["read"] }',
    /lone UTF-16 surrogate/u,
  ],
  ['unknown escape', 'path "secret/\\q" { capabilities = ["read"] }', /unknown escape/u],
  ['missing capabilities', 'path "a" {\n}', /Add capabilities/u],
  ['empty capabilities', 'path "a" { capabilities = [] }', /at least one capability/u],
  ['capabilities not a list', 'path "a" { capabilities = "read" }', /as a list of strings/u],
  ['unquoted capability', 'path "a" { capabilities = [read] }', /Quote the value "read"/u],
  [
    'top-level attribute',
    'name = "x"\npath "a" { capabilities = ["read"] }',
    /only path "<pattern>"/u,
  ],
  ['unknown block', 'paths "a" { capabilities = ["read"] }', /only path "<pattern>"/u],
  ['path without quotes', 'path a { capabilities = ["read"] }', /path as a quoted string/u],
  [
    'nested block',
    'path "a" {\n capabilities = ["read"]\n control_group {\n }\n}',
    /nested blocks are not supported \(line 3\)/u,
  ],
  ['enterprise key', 'path "a" { capabilities = ["read"]\n mfa_methods = ["x"] }', /MFA methods/u],
  ['unterminated string', 'path "a { capabilities = ["read"] }', /Write "\{"|Close the string/u],
  ['string across lines', 'path "a\nb" { capabilities = ["read"] }', /cannot span lines/u],
  [
    'unterminated comment',
    'path "a" { capabilities = ["read"] }\n/* open',
    /Close the comment.*\(line 2\)/u,
  ],
  ['missing closing brace', 'path "a" {\n capabilities = ["read"]\n', /Close the block/u],
  ['missing list comma', 'path "a" { capabilities = ["read" "list"] }', /between list items/u],
  ['heredoc', 'path "a" { capabilities = <<EOF\nread\nEOF\n }', /heredocs/u],
  ['single quotes', "path 'a' { capabilities = ['read'] }", /double quotes/u],
  [
    '"*" parameter with values',
    'path "a" { capabilities = ["create"]\n allowed_parameters = { "*" = ["x"] } }',
    /"\*" = \[\].*takes no values \(line 2\)/u,
  ],
  [
    'glob inside a parameter name',
    'path "a" { capabilities = ["create"] denied_parameters = { "foo*" = [] } }',
    /Remove the "\*" from the parameter "foo\*"/u,
  ],
  [
    'glob in required_parameters',
    'path "a" { capabilities = ["create"] required_parameters = ["*"] }',
    /Remove the "\*"/u,
  ],
  [
    'JSON pointer parameter',
    'path "a" { capabilities = ["create"] allowed_parameters = { "/a/b" = [] } }',
    /JSON pointer/u,
  ],
  [
    'parameters as a list',
    'path "a" { capabilities = ["create"] allowed_parameters = ["a"] }',
    /as an object/u,
  ],
  [
    'parameter values not a list',
    'path "a" { capabilities = ["create"] allowed_parameters = { "a" = "x" } }',
    /as a list/u,
  ],
  [
    'nested parameter value',
    'path "a" { capabilities = ["create"] allowed_parameters = { "a" = [["x"]] } }',
    /only strings, numbers or booleans/u,
  ],
  [
    'parameter names equal but for case',
    'path "a" { capabilities = ["create"] allowed_parameters = { "Foo" = [] "foo" = ["x"] } }',
    /repeated parameter "foo"/u,
  ],
  [
    'bad duration',
    'path "a" { capabilities = ["create"] min_wrapping_ttl = "soon" }',
    /min_wrapping_ttl .* as a duration/u,
  ],
  [
    'negative duration',
    'path "a" { capabilities = ["create"] max_wrapping_ttl = -5 }',
    /max_wrapping_ttl .* as a duration/u,
  ],
  [
    'max below min',
    'path "a" { capabilities = ["create"]\n min_wrapping_ttl = "2m"\n max_wrapping_ttl = "1m" }',
    /at least min_wrapping_ttl/u,
  ],
  ['bad number', 'path "a" { capabilities = ["create"] max_wrapping_ttl = 01 }', /plain decimals/u],
  [
    'JSON trailing comma',
    '{"path": {"a": {"capabilities": ["read"],}}}',
    /quoted key here, not "\}"/u,
  ],
  [
    'JSON repeated key',
    '{"path": {"a": {"capabilities": ["read"], "capabilities": ["list"]}}}',
    /repeated key "capabilities"/u,
  ],
  [
    'JSON repeated path',
    '{"path": {"a": {"capabilities": ["read"]}, "a": {"capabilities": ["list"]}}}',
    /repeated key "a"/u,
  ],
  [
    'JSON comment',
    '{"path": {"a": {"capabilities": ["read"]}}} // x',
    /unexpected character "\/"/u,
  ],
  ['JSON other top-level key', '{"name": "x", "path": {}}', /only "path" is allowed/u],
  ['JSON array root', '[{"path": {}}]', /Write the JSON policy as an object/u],
  ['JSON bare word', '{"path": {"a": {"capabilities": [read]}}}', /Quote every key/u],
  [
    'JSON text after the document',
    '{"path": {"a": {"capabilities": ["read"]}}} {}',
    /after the JSON document/u,
  ],
  [
    'JSON unknown capability',
    '{"path": {"a": {"capabilities": ["root"]}}}',
    /unknown capability "root"/u,
  ],
  ['JSON path rules not an object', '{"path": {"a": ["read"]}}', /as an object/u],
  ['JSON null value', '{"path": {"a": {"capabilities": null}}}', /as a list of strings/u],
  [
    'deep nesting',
    `{"path": {"a": {"capabilities": ${'['.repeat(50)}${']'.repeat(50)}}}}`,
    /Flatten/u,
  ],
  ['byte order mark', '\ufeffpath "a" { capabilities = ["read"] }', /U\+FEFF/u],
  ['too many rules', many.join('\n'), new RegExp(`at most ${policyRulesMax} path rules`, 'u')],
  [
    'too large',
    `# ${'x'.repeat(policyTextSizeBytesMax)}\npath "a" { capabilities = ["read"] }`,
    /at most 65536 bytes/u,
  ],
];

describe('parsePolicy on malformed documents', () => {
  it.each(malformed)('parsePolicy refuses a document with %s', (_title, text, message) => {
    const error = refusal(text);
    expect(error.code).toBe(CoreErrorCode.policyInvalid);
    expect(error.message).toMatch(message);
    expect(error.message).not.toMatch(/\n/u);
  });

  it('parsePolicy refuses a non-string document', () => {
    expect(() => parsePolicy('p', 42 as unknown as string)).toThrow(/as a string/u);
  });
});
