import { describe, expect, it } from 'vitest';

import type { Route } from './backend.ts';
import { compileRoute, matchRoute } from './route_match.ts';

const route = (pattern: string): Route => ({ pattern, operations: {} });
const routes = [
  'config',
  'data/*path',
  'data/special',
  'role/:name',
  'role/:name/secret-id',
  '',
].map((p) => compileRoute(route(p), p));

describe('matchRoute', () => {
  it('matches literals, one-segment and rest parameters', () => {
    expect(matchRoute(routes, 'config')?.compiled.extra).toBe('config');
    expect(matchRoute(routes, 'data/a/b/c')).toMatchObject({ params: { path: 'a/b/c' } });
    expect(matchRoute(routes, 'role/web')).toMatchObject({ params: { name: 'web' } });
    expect(matchRoute(routes, 'role/web/secret-id')?.compiled.extra).toBe('role/:name/secret-id');
    expect(matchRoute(routes, '')?.compiled.extra).toBe('');
  });

  it('prefers the route with more literal segments', () => {
    expect(matchRoute(routes, 'data/special')?.compiled.extra).toBe('data/special');
  });

  it('does not match a rest parameter with no segment, or extra segments', () => {
    expect(matchRoute(routes, 'data')).toBeUndefined();
    expect(matchRoute(routes, 'config/x')).toBeUndefined();
    expect(matchRoute(routes, 'role/a/b')).toBeUndefined();
  });

  it('matches literal segments after a rest parameter', () => {
    const withSuffix = ['mounts/*path', 'mounts/*path/tune'].map((p) => compileRoute(route(p), p));
    expect(matchRoute(withSuffix, 'mounts/a/b/tune')).toMatchObject({
      compiled: { extra: 'mounts/*path/tune' },
      params: { path: 'a/b' },
    });
    expect(matchRoute(withSuffix, 'mounts/tune')).toMatchObject({
      compiled: { extra: 'mounts/*path' },
      params: { path: 'tune' },
    });
    expect(matchRoute(withSuffix, 'mounts/a/b')?.compiled.extra).toBe('mounts/*path');
  });

  it('refuses a pattern with a parameter after "*"', () => {
    expect(() => compileRoute(route('a/*x/:b'), undefined)).toThrow(/only literal/);
  });
});
