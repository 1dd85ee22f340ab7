/**
 * Goal: every error leaves the endpoint with a COFFER_* code and without a value the caller
 * sent: graphql-js messages lose quoted values and coerced values but keep names; core
 * refusals keep their code, message and request id; adapter errors keep their code; anything
 * else becomes COFFER_API_INTERNAL with a fixed message; masking twice changes nothing.
 * Method: maskGraphqlError and redactGraphqlMessage on errors shaped as graphql-js, yoga and
 * the resolvers make them.
 */
import { describe, expect, it } from 'vitest';

import { ApiError, ApiErrorCode } from '../errors.ts';
import {
  coreFieldError,
  maskGraphqlError,
  messageLengthMax,
  redactGraphqlMessage,
} from './graphql_errors.ts';
import { GraphQLError } from './graphql_module.ts';

const secret = 'hunter2-secret';

describe('redactGraphqlMessage', () => {
  it.each([
    [`Syntax Error: Unexpected String "${secret}".`, 'Syntax Error: Unexpected String.'],
    [
      `Variable "$input" got invalid value { ttl: "${secret}" }; Field "ttl" of required type "String!" was not provided.`,
      'Variable "$input" got an invalid value; Field "ttl" of required type "String!" was not provided.',
    ],
    [
      `Int cannot represent non-integer value: "${secret}"`,
      'Int cannot represent non-integer value',
    ],
    [
      `String cannot represent a non string value: 12345`,
      'String cannot represent a non string value',
    ],
    [`Expected value of type "Int!", found "${secret}".`, 'Expected value of type "Int!"'],
    [
      'Cannot query field "nope" on type "Query". Did you mean "policy"?',
      'Cannot query field "nope" on type "Query". Did you mean "policy"?',
    ],
    [
      `Unknown argument "x" on field "Query.policy".`,
      `Unknown argument "x" on field "Query.policy".`,
    ],
    [`Field "a" got "${secret} with spaces"`, 'Field "a" got "…"'],
  ])('redactGraphqlMessage(%j) keeps names and drops values', (message, expected) => {
    expect(redactGraphqlMessage(message)).toBe(expected);
  });

  it('redactGraphqlMessage cuts a long message', () => {
    expect(redactGraphqlMessage(`Unknown ${'x'.repeat(1000)}`)).toHaveLength(messageLengthMax);
  });
});

describe('maskGraphqlError', () => {
  it('maskGraphqlError keeps a core refusal with its code, message and request id', () => {
    const own = coreFieldError({
      ok: false,
      requestId: 'req-1',
      code: 'COFFER_CORE_RATE_LIMITED',
      message: 'Retry later',
      retryAfterMs: 500,
    });
    const located = new GraphQLError(own.message, { originalError: own, path: ['policy'] });
    const masked = maskGraphqlError(located);
    expect(masked.toJSON()).toEqual({
      message: 'Retry later',
      path: ['policy'],
      extensions: { code: 'COFFER_CORE_RATE_LIMITED', requestId: 'req-1', retryAfterMs: 500 },
    });
    expect(maskGraphqlError(masked).toJSON()).toEqual(masked.toJSON());
  });

  it('maskGraphqlError keeps an ApiError code and hides any other thrown error', () => {
    const api = new ApiError(ApiErrorCode.invalidRequest, 'Give argument "name"');
    expect(maskGraphqlError(new GraphQLError('x', { originalError: api })).extensions).toEqual({
      code: ApiErrorCode.invalidRequest,
    });
    const bug = new TypeError(`cannot read ${secret}`);
    const masked = maskGraphqlError(new GraphQLError(bug.message, { originalError: bug }));
    expect(masked.extensions).toEqual({ code: ApiErrorCode.internal });
    expect(JSON.stringify(masked)).not.toContain(secret);
    expect(maskGraphqlError(new Error(secret)).message).not.toContain(secret);
    const foreign = Object.assign(new Error(secret), { code: 'COFFER_CORE_SEALED' });
    expect(maskGraphqlError(new GraphQLError('x', { originalError: foreign })).extensions).toEqual({
      code: ApiErrorCode.internal,
    });
  });

  it('maskGraphqlError gives graphql-js errors COFFER_API_INVALID_REQUEST and keeps the HTTP status', () => {
    const validation = new GraphQLError(`Int cannot represent non-integer value: "${secret}"`, {
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } },
    });
    const masked = maskGraphqlError(validation);
    expect(masked.message).toBe('Int cannot represent non-integer value');
    expect(masked.extensions).toEqual({
      code: ApiErrorCode.invalidRequest,
      http: { status: 400 },
    });
  });
});
