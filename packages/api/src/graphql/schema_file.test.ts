/**
 * Goal: schema.graphql holds exactly the schema of schema_sdl.ts (types, fields, arguments,
 * descriptions), so a schema change without the regenerated file fails CI and every change
 * shows in review as a diff of schema.graphql (issue 10 item 7); every type, field, argument
 * and enum value has a description.
 * Method: build the schema from the SDL and from the committed file, print both with
 * graphql-js and compare (so prettier's layout of the file does not count); REWRITE=1 writes
 * the file instead (`npm run generate:graphql -w @coffer/api`, which then runs prettier on
 * it); walk every named type of the schema for descriptions.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isIntrospectionType,
  isObjectType,
  isScalarType,
  printSchema,
} from './graphql_module.ts';
import { schemaSdl } from './schema_sdl.ts';

const schemaFile = fileURLToPath(new URL('schema.graphql', import.meta.url));
const advice = 'Run npm run generate:graphql -w @coffer/api and commit schema.graphql';

/** A field or input field as far as its documentation goes. */
interface DocumentedField {
  readonly name: string;
  readonly description?: string | null | undefined;
  readonly args?: readonly { readonly name: string; readonly description?: string | null }[];
}

/** Every named type, field and argument without a description, as `Type.field(arg)`. */
function undocumented(): string[] {
  const schema = buildSchema(schemaSdl);
  const missing: string[] = [];
  const has = (text: string | null | undefined): boolean => (text ?? '').trim() !== '';
  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type) || isScalarType(type)) {
      continue;
    }
    if (!has(type.description)) {
      missing.push(type.name);
    }
    if (isObjectType(type) || isInputObjectType(type)) {
      const fields: readonly DocumentedField[] = Object.values(type.getFields());
      for (const field of fields) {
        if (!has(field.description)) {
          missing.push(`${type.name}.${field.name}`);
        }
        for (const arg of field.args ?? []) {
          if (!has(arg.description)) {
            missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
    }
    if (isEnumType(type)) {
      for (const value of type.getValues()) {
        if (!has(value.description)) {
          missing.push(`${type.name}.${value.name}`);
        }
      }
    }
  }
  return missing;
}

describe('schema.graphql', () => {
  it('schema.graphql holds exactly the schema of schema_sdl.ts, descriptions included', () => {
    const printed = `${printSchema(buildSchema(schemaSdl))}\n`;
    if (process.env['REWRITE'] === '1') {
      writeFileSync(schemaFile, printed);
    }
    // NB: compared as graphql-js prints both, so prettier's layout of the file does not matter.
    const committed = printSchema(buildSchema(readFileSync(schemaFile, 'utf8')));
    expect(`${committed}\n` === printed, advice).toBe(true);
  });

  it('schema_sdl.ts documents every type, field and argument', () => {
    expect(undocumented()).toEqual([]);
  });
});
