// Kubernetes' OpenAPI v3.0 dialect -> the JSON Schema Ajv reads, and a
// validator for ModelDeployment specs as the API server serves them. The
// operator checks every object it reads: an object stored before a CRD change
// (or with validation bypassed) must not crash reconciliation.
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ModelDeploymentSpec } from './v1alpha1/spec.js';

type Schema = Record<string, unknown>;

/**
 * Rewrites an OpenAPI v3.0 schema (as a CRD embeds it) into JSON Schema:
 * Kubernetes extensions and formats dropped, boolean exclusiveMinimum turned
 * into a number, and unknown fields rejected like kubectl's strict validation.
 */
export function toJsonSchema(node: Schema): Schema {
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, Schema>).map(([k, v]) => [k, toJsonSchema(v)]),
      );
    } else if (key === 'items' || (key === 'additionalProperties' && typeof value === 'object')) {
      out[key] = toJsonSchema(value as Schema);
    } else if (key === 'anyOf') {
      out.anyOf = (value as Schema[]).map(toJsonSchema);
    } else if (!key.startsWith('x-kubernetes-') && key !== 'format') {
      out[key] = value;
    }
  }
  if (node.exclusiveMinimum === true) {
    out.exclusiveMinimum = node.minimum;
    delete out.minimum;
  }
  if (out.properties && !node['x-kubernetes-preserve-unknown-fields']) {
    out.additionalProperties = false;
  }
  return out;
}

export interface SchemaError {
  /** JSON pointer of the offending field, e.g. /spec/runtime/backend. */
  path: string;
  message: string;
}

export function formatErrors(errors: ErrorObject[] | null | undefined, prefix = ''): SchemaError[] {
  return (errors ?? []).map((e) => ({
    path:
      prefix +
      (e.keyword === 'required'
        ? `${e.instancePath}/${String(e.params.missingProperty)}`
        : e.keyword === 'additionalProperties'
          ? `${e.instancePath}/${String(e.params.additionalProperty)}`
          : e.instancePath),
    message: e.message ?? e.keyword,
  }));
}

/** Compiles a validator that applies defaults in place and returns the errors. */
export function makeValidator(schema: Schema, prefix = ''): (object: unknown) => SchemaError[] {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  const validate: ValidateFunction = ajv.compile(toJsonSchema(schema));
  return (object) => (validate(object) ? [] : formatErrors(validate.errors, prefix));
}

let servedSpecValidator: ((object: unknown) => SchemaError[]) | undefined;

/**
 * Checks a spec as served (defaults applied): the TypeBox source keeps every
 * defaulted field required, which is what the operator's types promise.
 */
export function validateServedSpec(spec: unknown): SchemaError[] {
  servedSpecValidator ??= makeValidator(
    JSON.parse(JSON.stringify(ModelDeploymentSpec)) as Schema,
    '/spec',
  );
  return servedSpecValidator(spec);
}
