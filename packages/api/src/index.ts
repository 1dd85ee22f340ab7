/**
 * Public surface of @coffer/api. This is the package's only barrel: explicit named re-exports,
 * nothing else (STYLE.md 1.3, 2.3).
 */
export { ApiError, ApiErrorCode } from './errors.ts';
export type { ApiErrorOptions } from './errors.ts';
export { verifyAuditFile } from '@coffer/core';
export type { VerifyAuditFileOptions, VerifyAuditFileResult } from '@coffer/core';
