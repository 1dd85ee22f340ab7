/**
 * The one place graphql-js is loaded (STYLE.md 4.2: a CommonJS dependency is imported in one
 * adapter file). graphql 16 ships CommonJS (`main`) beside an ES build (`module`) and has no
 * `exports` map, so Node loads the CommonJS build for graphql-yoga while a bundler-style
 * resolver (Vite, in the tests) would pick the ES build for our files: two copies, and
 * graphql-js refuses a schema made by the other ("from another module or realm"). Loading it
 * with `require` here gives every caller the copy yoga uses.
 *
 * NB: types come from `import type`, which loads nothing.
 */
import { createRequire } from 'node:module';

import type * as GraphqlModule from 'graphql';

const load = createRequire(import.meta.url);
const graphql = load('graphql') as typeof GraphqlModule;

export const {
  buildSchema,
  execute,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isIntrospectionType,
  isListType,
  isObjectType,
  isScalarType,
  Kind,
  NoSchemaIntrospectionCustomRule,
  OperationTypeNode,
  parse,
  printSchema,
  subscribe,
  TokenKind,
} = graphql;

/** graphql-js's error class (value and type). */
export const GraphQLError = graphql.GraphQLError;
/** An instance of {@link GraphQLError}. */
export type GraphQLError = GraphqlModule.GraphQLError;
/** graphql-js's lexer (value and type). */
export const Lexer = graphql.Lexer;
/** An instance of {@link Lexer}. */
export type Lexer = GraphqlModule.Lexer;
/** graphql-js's source text (value and type). */
export const Source = graphql.Source;
/** An instance of {@link Source}. */
export type Source = GraphqlModule.Source;
