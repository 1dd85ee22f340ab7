/**
 * The limits a GraphQL document must keep before it runs: lexical tokens (checked before the
 * parse, so a huge document is not turned into a tree), and selection depth, cost and aliases
 * (a validation rule, so they are checked with graphql's own rules, before execution).
 *
 * Cost: each field counts 1, a routed field (one router request, field_routes.ts) counts
 * `routedFieldCost`, and everything below a list counts `listFactor` times, since it runs once
 * per item. Fragments are expanded where they are spread, so a fragment used twice costs twice.
 *
 * Invariant: the walk stops as soon as a limit is passed, so a document built to expand
 * exponentially (fragments spreading fragments) costs the server no more than the limit.
 * NB: a fragment cycle is refused by graphql's NoFragmentCyclesRule; this walk only guards
 * against looping on it.
 */
import type {
  DocumentNode,
  GraphQLNamedType,
  SelectionSetNode,
  ValidationContext,
  ValidationRule,
} from 'graphql';

import {
  getNamedType,
  getNullableType,
  GraphQLError,
  isListType,
  isObjectType,
  Kind,
  Lexer,
  OperationTypeNode,
  parse,
  Source,
  TokenKind,
} from './graphql_module.ts';
import { ApiErrorCode } from '../errors.ts';

/** The limits of one document. */
export interface QueryLimits {
  readonly tokensMax: number;
  readonly depthMax: number;
  readonly costMax: number;
  readonly aliasesMax: number;
}

/** A routed field costs this much (it is a router request). */
export const routedFieldCost = 10;
/** What a list is assumed to hold when counting the cost below it. */
export const listFactor = 10;

function tooComplex(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ApiErrorCode.queryTooComplex } });
}

/**
 * Parses `text` after counting its tokens; throws GraphQLError COFFER_API_QUERY_TOO_COMPLEX
 * over `tokensMax`, and graphql's syntax error for a malformed document.
 */
export function parseWithinLimits(text: string, tokensMax: number): DocumentNode {
  const lexer = new Lexer(new Source(text));
  let count = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) {
      count += 1;
      if (count > tokensMax) {
        throw tooComplex(`Send a smaller document: it holds more than ${tokensMax} tokens`);
      }
    }
  } catch (error) {
    if (error instanceof GraphQLError && error.extensions['code'] !== undefined) {
      throw error;
    }
    // NB: a lexical error: parse() below reports it as graphql's syntax error.
  }
  return parse(text, { maxTokens: tokensMax + 1 });
}

/** What the walk has counted so far. */
interface Tally {
  cost: number;
  aliases: number;
  depth: number;
  refusal: string | undefined;
}

/** Which fields are routed: `isRouted("Query", "policy")`. */
export type RoutedField = (typeName: string, fieldName: string) => boolean;

interface Walk {
  readonly context: ValidationContext;
  readonly limits: QueryLimits;
  readonly isRouted: RoutedField;
  readonly tally: Tally;
  readonly spreading: Set<string>;
}

function check(walk: Walk, depth: number): void {
  const { tally, limits } = walk;
  tally.depth = Math.max(tally.depth, depth);
  if (tally.depth > limits.depthMax) {
    tally.refusal = `Nest selections at most ${limits.depthMax} deep`;
  } else if (tally.cost > limits.costMax) {
    tally.refusal = `Select less: the document costs more than ${limits.costMax} (a field 1, a router request ${routedFieldCost}, each under a list ${listFactor} times)`;
  } else if (tally.aliases > limits.aliasesMax) {
    tally.refusal = `Use at most ${limits.aliasesMax} aliases in a document`;
  }
}

/** Whether a limit has been passed (a function: the walk changes the tally behind TS's back). */
function refused(walk: Walk): boolean {
  return walk.tally.refusal !== undefined;
}

function walkSelections(
  walk: Walk,
  selectionSet: SelectionSetNode,
  at: {
    readonly type: GraphQLNamedType | undefined;
    readonly depth: number;
    readonly factor: number;
  },
): void {
  for (const selection of selectionSet.selections) {
    if (walk.tally.refusal !== undefined) {
      return;
    }
    if (selection.kind === Kind.FIELD) {
      const field = isObjectType(at.type) ? at.type.getFields()[selection.name.value] : undefined;
      const routed = at.type !== undefined && walk.isRouted(at.type.name, selection.name.value);
      walk.tally.cost += (routed ? routedFieldCost : 1) * at.factor;
      walk.tally.aliases += selection.alias === undefined ? 0 : 1;
      check(walk, at.depth + 1);
      if (selection.selectionSet !== undefined && !refused(walk)) {
        const listed = field !== undefined && isListType(getNullableType(field.type));
        walkSelections(walk, selection.selectionSet, {
          type: field === undefined ? undefined : getNamedType(field.type),
          depth: at.depth + 1,
          factor: at.factor * (listed ? listFactor : 1),
        });
      }
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      walkSelections(walk, selection.selectionSet, at);
    } else {
      const name = selection.name.value;
      const fragment = walk.context.getFragment(name);
      if (fragment !== undefined && fragment !== null && !walk.spreading.has(name)) {
        walk.spreading.add(name);
        walkSelections(walk, fragment.selectionSet, at);
        walk.spreading.delete(name);
      }
    }
  }
}

/**
 * A validation rule refusing an operation over `limits` with COFFER_API_QUERY_TOO_COMPLEX,
 * naming the limit it passed.
 */
export function queryLimitsRule(limits: QueryLimits, isRouted: RoutedField): ValidationRule {
  return (context) => ({
    OperationDefinition(operation) {
      const schema = context.getSchema();
      const root =
        operation.operation === OperationTypeNode.QUERY
          ? schema.getQueryType()
          : operation.operation === OperationTypeNode.MUTATION
            ? schema.getMutationType()
            : schema.getSubscriptionType();
      const tally: Tally = { cost: 0, aliases: 0, depth: 0, refusal: undefined };
      const walk = { context, limits, isRouted, tally, spreading: new Set<string>() };
      walkSelections(walk, operation.selectionSet, {
        type: root ?? undefined,
        depth: 0,
        factor: 1,
      });
      if (tally.refusal !== undefined) {
        context.reportError(tooComplex(tally.refusal));
      }
      return false;
    },
  });
}
