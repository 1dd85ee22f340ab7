/**
 * Public surface of @coffer/core. This is the package's only barrel: explicit named re-exports,
 * nothing else (STYLE.md 1.3, 2.3).
 */
export { CoreError, CoreErrorCode } from './errors.ts';
export type { CoreErrorOptions } from './errors.ts';
