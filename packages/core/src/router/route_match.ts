/**
 * Route matching: compiles each Route's pattern once and finds the route of a path relative to
 * its mount. Literal segments match exactly; `:name` matches one segment; `*name` matches one
 * or more segments, and only literal segments may follow it (`mounts/*path/tune`). Among routes that match, the one with more literal segments wins, so
 * `data/config` beats `data/*path`; declaration order breaks ties.
 */
import type { Route } from './backend.ts';

type Part =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'one'; readonly name: string }
  | { readonly kind: 'rest'; readonly name: string };

/** A compiled route of one backend, and which storage its handlers get. */
export interface CompiledRoute<Extra> {
  readonly route: Route;
  readonly parts: readonly Part[];
  readonly literals: number;
  readonly extra: Extra;
}

/** A route that matched, with its parameters. */
export interface RouteMatch<Extra> {
  readonly compiled: CompiledRoute<Extra>;
  readonly params: Readonly<Record<string, string>>;
}

/** Compiles a route's pattern; throws on a malformed pattern (a bug in the backend). */
export function compileRoute<Extra>(route: Route, extra: Extra): CompiledRoute<Extra> {
  const segments = route.pattern === '' ? [] : route.pattern.split('/');
  const parts = segments.map((segment, i): Part => {
    if (segment.startsWith(':')) {
      return { kind: 'one', name: segment.slice(1) };
    }
    if (segment.startsWith('*')) {
      const after = segments.slice(i + 1);
      if (after.some((s) => s.startsWith('*') || s.startsWith(':'))) {
        throw new Error(`Route pattern "${route.pattern}": only literal segments may follow "*"`);
      }
      return { kind: 'rest', name: segment.slice(1) };
    }
    return { kind: 'literal', text: segment };
  });
  return { route, parts, literals: parts.filter((p) => p.kind === 'literal').length, extra };
}

function matchOne<Extra>(
  compiled: CompiledRoute<Extra>,
  segments: readonly string[],
): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  const { parts } = compiled;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part === undefined) {
      return undefined;
    }
    if (part.kind === 'rest') {
      const suffix = parts.slice(i + 1).map((p) => (p.kind === 'literal' ? p.text : ''));
      const end = segments.length - suffix.length;
      if (end <= i || suffix.some((text, j) => segments[end + j] !== text)) {
        return undefined;
      }
      params[part.name] = segments.slice(i, end).join('/');
      return params;
    }
    const segment = segments[i];
    if (segment === undefined) {
      return undefined;
    }
    if (part.kind === 'literal') {
      if (segment !== part.text) {
        return undefined;
      }
    } else {
      params[part.name] = segment;
    }
  }
  return parts.length === segments.length ? params : undefined;
}

/** The best route for `path` (relative to the mount, no leading or trailing slash). */
export function matchRoute<Extra>(
  routes: readonly CompiledRoute<Extra>[],
  path: string,
): RouteMatch<Extra> | undefined {
  const segments = path === '' ? [] : path.split('/');
  let best: RouteMatch<Extra> | undefined;
  for (const compiled of routes) {
    const params = matchOne(compiled, segments);
    if (
      params !== undefined &&
      (best === undefined || compiled.literals > best.compiled.literals)
    ) {
      best = { compiled, params };
    }
  }
  return best;
}
