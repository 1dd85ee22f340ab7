/**
 * Every error the GraphQL endpoint sends, masked to one shape: a message and
 * `extensions.code`, a stable COFFER_* code (docs/errors.md), plus `requestId` and
 * `retryAfterMs` for a core refusal. No stack, no original error, no value the caller sent.
 *
 *   core refusal (a resolver's router answer)  → the core's code and message
 *   ApiError from an adapter check             → its code and fixed message
 *   graphql-js or yoga refusing the document   → COFFER_API_INVALID_REQUEST, values redacted
 *   a limit rule (query_limits.ts)             → COFFER_API_QUERY_TOO_COMPLEX
 *   anything else (a bug)                      → COFFER_API_INTERNAL, a fixed message
 *
 * Invariant: a message that graphql-js wrote (which may quote a variable's value or a literal
 * of the document) leaves only after every quoted value that is not a name is replaced and it
 * is cut to {@link messageLengthMax} characters.
 */
import type { CoreFailure } from '@coffer/core';
import type { GraphQLErrorExtensions } from 'graphql';

import { GraphQLError } from './graphql_module.ts';
import { ApiErrorCode } from '../errors.ts';

/** The longest message graphql-js wrote that is sent on. */
export const messageLengthMax = 300;

const apiCodes: ReadonlySet<string> = new Set(Object.values(ApiErrorCode));

const internalMessage =
  'Retry later: the server failed to answer this (the server log has details)';

/** The error a resolver throws for a core refusal: its code, message and request id. */
export function coreFieldError(failure: CoreFailure): GraphQLError {
  return new GraphQLError(failure.message, {
    extensions: {
      code: failure.code,
      requestId: failure.requestId,
      ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
    },
  });
}

/** An error with a COFFER_API_* code and a message this package wrote. */
export function apiGraphqlError(code: ApiErrorCode, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/** A quoted name graphql-js may show: `$var`, `Type`, `Type.field`, `@directive`, `[T!]!`. */
const quotedName = /^[$@]?\[?[_A-Za-z][_0-9A-Za-z]*(?:\.[_A-Za-z][_0-9A-Za-z]*)?!?\]?!?$/;

/**
 * graphql-js's message without the values it may quote: string, number and object values of
 * variables and literals. Names of the document and the schema stay, so the message still says
 * what to fix.
 */
export function redactGraphqlMessage(message: string): string {
  const text = message
    // A token in a syntax error: `Unexpected String "hunter2"`.
    .replace(/\b(String|BlockString|Int|Float) "(?:[^"\\]|\\.)*"/g, '$1')
    // A coerced value: `got invalid value {...};`, `cannot represent ...: 12`, `found 12`.
    .replace(/ got invalid value [^;]*/g, ' got an invalid value')
    .replace(/(cannot represent [^:]*):[^;]*/g, '$1')
    .replace(/(Expected value of type "[^"]*"), found [^;]*/g, '$1')
    // Any other quoted text that is not a name.
    .replace(/"((?:[^"\\]|\\.)*)"/g, (whole, inner: string) =>
      quotedName.test(inner) ? whole : '"…"',
    );
  return text.length > messageLengthMax ? `${text.slice(0, messageLengthMax - 1)}…` : text;
}

function codeOf(extensions: GraphQLErrorExtensions | undefined): string | undefined {
  const code = extensions?.['code'];
  return typeof code === 'string' ? code : undefined;
}

/** The extensions a masked error keeps: ours, and yoga's HTTP status (yoga strips it). */
function keptExtensions(
  code: string,
  extensions: GraphQLErrorExtensions | undefined,
): GraphQLErrorExtensions {
  const kept: Record<string, unknown> = { code };
  for (const name of ['requestId', 'retryAfterMs', 'http']) {
    if (extensions?.[name] !== undefined) {
      kept[name] = extensions[name];
    }
  }
  return kept;
}

function rebuilt(
  error: GraphQLError,
  message: string,
  extensions: GraphQLErrorExtensions,
): GraphQLError {
  return new GraphQLError(message, {
    ...(error.nodes === undefined ? {} : { nodes: error.nodes }),
    ...(error.path === undefined ? {} : { path: error.path }),
    extensions,
  });
}

/** Our own errors, thrown by a resolver or a limit rule, pass with their code and message. */
function maskOwn(error: GraphQLError, own: GraphQLError | { code?: unknown; message: string }) {
  const code = own instanceof GraphQLError ? codeOf(own.extensions) : own.code;
  if (typeof code !== 'string' || !/^COFFER_[A-Z]+_[A-Z_]+$/.test(code)) {
    return undefined;
  }
  const extensions = own instanceof GraphQLError ? own.extensions : undefined;
  if (!(own instanceof GraphQLError) && !apiCodes.has(code)) {
    return undefined;
  }
  return rebuilt(error, own.message, keptExtensions(code, extensions));
}

/**
 * yoga's `maskError`: every error of every response goes through it. Returns the error to
 * send (see the file comment for the cases).
 */
export function maskGraphqlError(error: unknown): GraphQLError {
  if (!(error instanceof GraphQLError)) {
    return new GraphQLError(internalMessage, {
      extensions: { code: ApiErrorCode.internal, http: { status: 500 } },
    });
  }
  const original: unknown = error.originalError;
  if (original === undefined || original === null || original === error) {
    const own = maskOwn(error, error);
    if (own !== undefined) {
      return own;
    }
    return rebuilt(
      error,
      redactGraphqlMessage(error.message),
      keptExtensions(ApiErrorCode.invalidRequest, error.extensions),
    );
  }
  const fromResolver =
    original instanceof GraphQLError
      ? maskOwn(error, original)
      : typeof original === 'object' && 'code' in original && original instanceof Error
        ? maskOwn(error, original)
        : undefined;
  return fromResolver ?? rebuilt(error, internalMessage, { code: ApiErrorCode.internal });
}
