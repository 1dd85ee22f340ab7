/**
 * Dependency rules for the Coffer monorepo: STYLE.md 2.1 to 2.4, enforced in `npm run check`
 * (STYLE.md 2.5). Paths are relative to the repository root.
 *
 * Allowed workspace edges (2.1): cli → api → core → storage → raft; core → raft; api → client;
 * cli → client; agent → client. client imports no server package. test/ and chaos/ import public
 * exports only. Nothing imports test/ or chaos/.
 */

/**
 * Legacy exceptions: edges that break a rule below but are tolerated for now. Each entry is
 * `{ rule, from, to, why }`, where `from` and `to` are path regexes of one edge.
 *
 * NB: this list may only shrink. Do not add to it; fix the import instead. If a rule truly fights
 * a better design, change the rule and say why in ARCHITECTURE.md (STYLE.md 2.5).
 */
const LEGACY_EXCEPTIONS = [];

/** Workspace packages each package may import (STYLE.md 2.1). Not transitive. */
const ALLOWED_WORKSPACE_IMPORTS = {
  raft: [],
  storage: ['raft'],
  core: ['storage', 'raft'],
  api: ['core', 'client'],
  client: [],
  cli: ['api', 'client'],
  agent: ['client'],
};

/** The only files another workspace may resolve into: each package's "exports" entries (2.3). */
const PUBLIC_ENTRY = '^packages/[^/]+/src/(index|testing|node)\\.ts$';
const TEST_FILE = '\\.test\\.ts$';

function workspaceDirectionRules() {
  return Object.entries(ALLOWED_WORKSPACE_IMPORTS).map(([name, allowed]) => ({
    name: `direction-${name}`,
    comment:
      `@coffer/${name} may import ` +
      (allowed.length === 0
        ? 'no workspace package'
        : allowed.map((a) => `@coffer/${a}`).join(', ')) +
      ' (STYLE.md 2.1)',
    severity: 'error',
    from: { path: `^packages/${name}/` },
    to: {
      path: '^(packages|test|chaos|bench)/',
      pathNot: `^packages/(${[name, ...allowed].join('|')})/`,
    },
  }));
}

/** Each workspace directory with the @coffer packages its package.json declares. */
function readWorkspaces() {
  const fs = require('node:fs');
  const path = require('node:path');
  const dirs = [
    ...fs.readdirSync(path.join(__dirname, 'packages')).map((name) => `packages/${name}`),
    'test',
    'chaos',
    'bench',
  ];
  return dirs
    .filter((dir) => fs.existsSync(path.join(__dirname, dir, 'package.json')))
    .map((dir) => {
      const manifest = JSON.parse(
        fs.readFileSync(path.join(__dirname, dir, 'package.json'), 'utf8'),
      );
      const declared = Object.keys({
        ...manifest.dependencies,
        ...manifest.devDependencies,
        ...manifest.peerDependencies,
        ...manifest.optionalDependencies,
      })
        .filter((dependency) => dependency.startsWith('@coffer/'))
        .map((dependency) => dependency.slice('@coffer/'.length));
      return { dir, declared };
    });
}

/** Workspace packages resolve to local files, so their declarations are checked here (2.4). */
function declaredWorkspaceRules() {
  const packageDir = (name) =>
    name === 'test' || name === 'chaos' || name === 'bench' ? name : `packages/${name}`;
  return readWorkspaces().map(({ dir, declared }) => ({
    name: `undeclared-workspace-${dir.replace('packages/', '')}`,
    comment:
      `${dir} imports a @coffer package missing from its package.json dependencies; declare it ` +
      'as "*" (STYLE.md 2.4)',
    severity: 'error',
    from: { path: `^${dir}/` },
    to: {
      path: '^(packages/[^/]+|test|chaos|bench)/',
      pathNot: [`^${dir}/`, ...declared.map((name) => `^${packageDir(name)}/`)],
    },
  }));
}

/** @type {import('dependency-cruiser').IForbiddenRuleType[]} */
const RULES = [
  {
    name: 'no-circular',
    comment: 'No cycles, not even inside a package (STYLE.md 2.1)',
    severity: 'error',
    from: {},
    to: { circular: true },
  },
  {
    name: 'not-to-unresolvable',
    comment:
      'Every import resolves; a subpath that is not in the target package.json "exports" does not ' +
      '(STYLE.md 2.3)',
    severity: 'error',
    from: {},
    to: { couldNotResolve: true },
  },
  {
    name: 'raft-core-is-pure',
    comment:
      'packages/raft/src/core imports only packages/raft/src/core: no node:*, no npm package, no ' +
      'workspace package (STYLE.md 2.1, 3.1). Its tests may import vitest.',
    severity: 'error',
    from: { path: '^packages/raft/src/core/', pathNot: TEST_FILE },
    to: { pathNot: '^packages/raft/src/core/' },
  },
  {
    name: 'raft-core-tests-are-pure',
    comment:
      'Tests of the pure Raft core import only the core, the raft testing harness (src/testing.ts, ' +
      'src/testing/) and vitest: no node:*, no other npm package (STYLE.md 2.1, 8.4)',
    severity: 'error',
    from: { path: `^packages/raft/src/core/.+${TEST_FILE}` },
    to: {
      pathNot: [
        '^packages/raft/src/core/',
        '^packages/raft/src/testing(\\.ts$|/)',
        '^node_modules/vitest/',
      ],
    },
  },
  {
    name: 'raft-node-no-npm',
    comment:
      'The Raft driver (packages/raft/src/node) may use node: built-ins but no npm package (STYLE.md 2.1)',
    severity: 'error',
    from: { path: '^packages/raft/src/node/', pathNot: TEST_FILE },
    to: {
      dependencyTypes: [
        'npm',
        'npm-dev',
        'npm-optional',
        'npm-peer',
        'npm-bundled',
        'npm-no-pkg',
        'npm-unknown',
      ],
    },
  },
  ...workspaceDirectionRules(),
  ...declaredWorkspaceRules(),
  {
    name: 'no-deep-import',
    comment:
      'Another workspace is reached only through its package name and its "exports" entries, ' +
      'never by a relative path or into its internals (STYLE.md 2.3)',
    severity: 'error',
    from: { path: '^(packages/([^/]+)|test|chaos|bench)/' },
    to: {
      path: '^(packages/[^/]+|test|chaos|bench)/',
      pathNot: ['^$1/', PUBLIC_ENTRY],
    },
  },
  {
    name: 'workspace-via-package-name',
    comment:
      'A public entry of another workspace is imported by its package name, not a relative path (STYLE.md 2.3)',
    severity: 'error',
    from: { path: '^(packages/([^/]+)|test|chaos|bench)/' },
    to: {
      path: PUBLIC_ENTRY,
      pathNot: '^$1/',
      dependencyTypes: ['local'],
    },
  },
  {
    name: 'not-to-undeclared-npm',
    comment:
      'Every npm import is declared in the importing workspace package.json, even when hoisting ' +
      'resolves it (STYLE.md 2.4). Test files may also use the root devDependencies (vitest).',
    severity: 'error',
    from: { pathNot: TEST_FILE },
    to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
  },
  {
    name: 'tests-to-undeclared-npm',
    comment:
      'Test files may import root devDependency vitest; anything else must be declared (STYLE.md 2.4)',
    severity: 'error',
    from: { path: TEST_FILE },
    to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'], pathNot: '^node_modules/vitest/' },
  },
];

/** Splits each rule so that the legacy edges for it no longer match. */
function applyLegacyExceptions(rules) {
  return rules.flatMap((rule) => {
    const exceptions = LEGACY_EXCEPTIONS.filter((exception) => exception.rule === rule.name);
    if (exceptions.length === 0) {
      return [rule];
    }
    const asList = (value) => (value === undefined ? [] : [value].flat());
    const others = {
      ...rule,
      from: {
        ...rule.from,
        pathNot: [...asList(rule.from.pathNot), ...exceptions.map((e) => e.from)],
      },
    };
    const excepted = exceptions.map((exception, index) => ({
      ...rule,
      name: `${rule.name}-legacy-${index}`,
      from: { ...rule.from, path: exception.from },
      to: { ...rule.to, pathNot: [...asList(rule.to.pathNot), exception.to] },
    }));
    return [others, ...excepted];
  });
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: applyLegacyExceptions(RULES),
  options: {
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: ['^(packages/[^/]+|test|chaos|bench)/(dist|coverage)/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    combinedDependencies: false,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['@coffer/source', 'import', 'types', 'node', 'default'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.js', '.json'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
