/**
 * The JSON Schemas of the request dialects (`schemas/sdcn-*.json`, `schemas/openai-*.json`), compiled by ajv with
 * messages in the worker's one-line form (unknown fields refused with a "did you mean"). A1111's own payloads are not
 * checked by JSON Schema but against the server's request model (model-check.ts).
 */
import { Ajv, type ErrorObject, type SchemaObject } from 'ajv';
import formatsModule from 'ajv-formats';
import { JobInputError } from '../../errors/index.js';
import { appendKey, isObject, plural } from '../format.js';
import { describe, IssueList } from '../input/issues.js';
import { suggestField } from '../input/name-suggest.js';
import common from '../../../schemas/common.json' with { type: 'json' };

const ajv = new Ajv({
  allErrors: true,
  strict: true,
  // `type: ["integer", "null"]` is how the schemas say "Optional" (draft-07 has no `nullable`).
  allowUnionTypes: true,
  useDefaults: false,
  coerceTypes: false,
  removeAdditional: false,
  // Errors carry the failing schema and data, used to describe what is allowed.
  verbose: true,
});
formatsModule.default(ajv);
// Annotations of the bundled A1111 model (schemas/txt2img.json …), which the OpenAI dialect merges in.
ajv.addKeyword({ keyword: 'x-null-fails', schemaType: 'string' });
ajv.addKeyword({ keyword: 'x-model', schemaType: 'string' });
ajv.addSchema(common as SchemaObject);

/** Resolves an ajv JSON pointer against the payload: the readable field path and the value there. */
function locate(payload: unknown, pointer: string): { path: string; value: unknown } {
  let path = '';
  let value: unknown = payload;
  if (pointer === '') return { path, value };
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(value)) {
      path += `[${seg}]`;
      value = value[Number(seg)];
    } else {
      path = appendKey(path, seg);
      value = isObject(value) && Object.hasOwn(value, seg) ? value[seg] : undefined;
    }
  }
  return { path, value };
}


const TYPE_WORDS: Readonly<Record<string, string>> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

function typePhrase(types: unknown): string {
  const list = Array.isArray(types) ? types : [types];
  return list.map((t) => TYPE_WORDS[String(t)] ?? String(t)).join(' or ');
}

function unknownFieldReason(key: string, known: readonly string[]): string {
  const near = suggestField(key, known);
  return near ? `unknown field (did you mean ${JSON.stringify(near)}?)` : 'unknown field';
}

/** The size keywords of ajv: the bound's words and what is counted. */
const SIZE_KEYWORDS: Readonly<Record<string, readonly [string, string]>> = {
  minItems: ['at least', 'item'],
  maxItems: ['at most', 'item'],
  minLength: ['at least', 'character'],
  maxLength: ['at most', 'character'],
  minProperties: ['at least', 'key'],
  maxProperties: ['at most', 'key'],
};

function numberParam(err: ErrorObject, name: string): string {
  return String((err.params as Record<string, unknown>)[name]);
}

/** Turns ajv's errors into issues, one entry per field. */
function collectSchemaIssues(payload: unknown, errors: readonly ErrorObject[], issues: IssueList): void {
  // A field that fails `enum` also fails `type` when the type is wrong; the enum says everything. A field
  // of the wrong type (7.5 for an integer) may also fail number keywords (multipleOf); the type says enough.
  const enumPaths = new Set(errors.filter((e) => e.keyword === 'enum').map((e) => e.instancePath));
  const typePaths = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  for (const err of errors) {
    const params = err.params as Record<string, unknown>;
    const { path, value } = locate(payload, err.instancePath);
    if (typePaths.has(err.instancePath) && !['type', 'enum', 'additionalProperties', 'required'].includes(err.keyword)) continue;
    switch (err.keyword) {
      case 'additionalProperties': {
        const key = String(params.additionalProperty);
        const parent = err.parentSchema as { properties?: Record<string, unknown> } | undefined;
        const known = Object.keys(parent?.properties ?? {});
        issues.add(appendKey(path, key), undefined, unknownFieldReason(key, known), false);
        break;
      }
      case 'required':
        issues.add(appendKey(path, String(params.missingProperty)), undefined, 'is required', false);
        break;
      case 'type':
        if (!enumPaths.has(err.instancePath)) issues.add(path, value, `must be ${typePhrase(err.schema)}`);
        break;
      case 'enum': {
        const allowed = Array.isArray(err.schema) ? err.schema.map((v) => JSON.stringify(v)).join(', ') : '';
        issues.add(path, value, `must be one of ${allowed}`);
        break;
      }
      case 'multipleOf':
        issues.add(path, value, `must be a multiple of ${numberParam(err, 'multipleOf')}`);
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        issues.add(path, value, `must be ${String(params.comparison)} ${numberParam(err, 'limit')}`);
        break;
      case 'minItems':
      case 'maxItems':
      case 'minLength':
      case 'maxLength':
      case 'minProperties':
      case 'maxProperties': {
        const limit = Number(params.limit);
        const [bound, unit] = SIZE_KEYWORDS[err.keyword]!;
        issues.add(path, value, err.keyword === 'minLength' && limit === 1 ? 'must not be empty' : `must have ${bound} ${plural(limit, unit)}`);
        break;
      }
      case 'anyOf':
      case 'oneOf':
      case 'allOf':
        // Wrapper errors: the branch errors at the same field already say what is wrong.
        break;
      default:
        issues.add(path, value, err.message ?? `fails ${err.keyword}`);
    }
  }
}

/** A compiled request-dialect schema: throws JobInputError naming every offending field. */
export type DialectValidator = (payload: unknown) => void;

/**
 * Compiles the JSON Schema of a request dialect (`schemas/sdcn-*.json`, `schemas/openai-*.json`) with the same
 * ajv settings and messages as the A1111 payload schemas (unknown fields refused with a "did you mean").
 * The schema may `$ref` `common.json` definitions.
 * @param schema the schema object (its `$id`, if any, must be unique).
 * @param where how messages name the request, e.g. `SDCN POST /txt2img`.
 * @returns a function that throws JobInputError `invalid payload for <where>: <field>: <value> is not allowed (…); …`
 *   when `payload` is not an object or fails the schema, and returns otherwise.
 * @throws Error at compile time when the schema itself is invalid (a bug).
 */
export function compileDialectSchema(schema: SchemaObject, where: string): DialectValidator {
  const validator = ajv.compile(schema);
  return (payload: unknown) => {
    if (!isObject(payload)) throw new JobInputError(`payload for ${where} must be a JSON object (got ${describe(payload)})`);
    if (validator(payload)) return;
    const issues = new IssueList();
    collectSchemaIssues(payload, validator.errors ?? [], issues);
    if (issues.size > 0) throw new JobInputError(`invalid payload for ${where}: ${issues.render()}`);
  };
}
