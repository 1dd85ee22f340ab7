/**
 * Public surface of @coffer/cli (for tests and embedding; operators run the `coffer` bin). This
 * is the package's only barrel: explicit named re-exports, nothing else (STYLE.md 1.3, 2.3).
 */
export { runAuditVerify } from './audit_verify_command.ts';
export type { AuditVerifyOptions } from './audit_verify_command.ts';
export { OutputFormat } from './cli_io.ts';
export type { CliIo } from './cli_io.ts';
export { createProgram } from './program.ts';
