/**
 * Public surface of @coffer/cli (for tests and embedding; operators run the `coffer` bin). This
 * is the package's only barrel: explicit named re-exports, nothing else (STYLE.md 1.3, 2.3).
 */
export { runAuditVerify } from './audit_verify_command.ts';
export type { AuditVerifyOptions } from './audit_verify_command.ts';
export type { CliClient, CliContext, CliInput } from './cli_context.ts';
export { OutputFormat } from './cli_io.ts';
export type { CliIo } from './cli_io.ts';
export { defaultAddress } from './client_settings.ts';
export type { GlobalOptions } from './client_settings.ts';
export { CliError, CliErrorCode } from './errors.ts';
export type { CliErrorOptions } from './errors.ts';
export { createNodeContext } from './node_context.ts';
export { createProgram } from './program.ts';
export { StatusExit } from './status_command.ts';
export { createStreamInput } from './stream_input.ts';
export type { InputStream } from './stream_input.ts';
export { loginTokenFileName } from './token_file.ts';
