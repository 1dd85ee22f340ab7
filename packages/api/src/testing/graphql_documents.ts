/**
 * Test support: GraphQL documents made from the schema itself, so a sweep over "every field"
 * stays complete when a field is added. Arguments are variables with sample values of their
 * declared types; object results select `__typename` only.
 */
import type { GraphQLInputType, GraphQLSchema } from 'graphql';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isObjectType,
} from '../graphql/graphql_module.ts';

/** A value of `type` for an argument: every input field filled. */
export function sampleOf(type: GraphQLInputType): unknown {
  const inner = getNullableType(type);
  if (isListType(inner)) {
    return [sampleOf(inner.ofType)];
  }
  if (isInputObjectType(inner)) {
    const value: Record<string, unknown> = {};
    for (const field of Object.values(inner.getFields())) {
      value[field.name] = sampleOf(field.type);
    }
    return value;
  }
  if (isEnumType(inner)) {
    return inner.getValues()[0]?.value;
  }
  const scalars: Record<string, unknown> = { String: 'sample', Int: 7, Boolean: true, Float: 1 };
  return scalars[inner.name];
}

/** A document and its variables. */
export interface SampleDocument {
  readonly query: string;
  readonly variables: Record<string, unknown>;
}

/**
 * One operation selecting `fields` of the root type (all of them when absent), each with
 * sample arguments as variables named `<field>_<arg>`.
 */
export function fieldsDocument(
  schema: GraphQLSchema,
  operation: 'query' | 'mutation',
  fields?: readonly string[],
): SampleDocument {
  const root = operation === 'query' ? schema.getQueryType() : schema.getMutationType();
  const all = root?.getFields() ?? {};
  const declared: string[] = [];
  const selections: string[] = [];
  const variables: Record<string, unknown> = {};
  for (const name of fields ?? Object.keys(all)) {
    const field = all[name];
    if (field === undefined) {
      throw new Error(`no ${operation} field ${name}`);
    }
    const passed = field.args.map((arg) => {
      const variable = `${name}_${arg.name}`;
      declared.push(`$${variable}: ${String(arg.type)}`);
      variables[variable] = sampleOf(arg.type);
      return `${arg.name}: $${variable}`;
    });
    const selection = isObjectType(getNamedType(field.type)) ? ' { __typename }' : '';
    selections.push(`${name}${passed.length === 0 ? '' : `(${passed.join(', ')})`}${selection}`);
  }
  const head = declared.length === 0 ? operation : `${operation}(${declared.join(', ')})`;
  return { query: `${head} { ${selections.join(' ')} }`, variables };
}
