// In-process stand-in for the API server's schema checks: validates an object
// against the CRD's structural OpenAPI schema, applies its defaults, and (like
// kubectl's strict field validation) rejects unknown fields. CEL rules are not
// evaluated here; the integration tier proves them against a real API server.
import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';

type Schema = Record<string, unknown>;

/** Rewrites Kubernetes' OpenAPI v3.0 dialect into the JSON Schema that Ajv reads. */
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
    } else if (key.startsWith('x-kubernetes-') || key === 'format') {
      continue;
    } else {
      out[key] = value;
    }
  }
  // OpenAPI 3.0's boolean exclusiveMinimum is a number in JSON Schema.
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

export function makeValidator(openAPIV3Schema: Schema) {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  const validate = ajv.compile(toJsonSchema(openAPIV3Schema));
  /** Validates and defaults `object` in place; returns the errors, empty when valid. */
  return (object: unknown): SchemaError[] => {
    if (validate(object)) return [];
    return (validate.errors ?? []).map((e: ErrorObject) => ({
      path:
        e.keyword === 'required'
          ? `${e.instancePath}/${String(e.params.missingProperty)}`
          : e.keyword === 'additionalProperties'
            ? `${e.instancePath}/${String(e.params.additionalProperty)}`
            : e.instancePath,
      message: e.message ?? e.keyword,
    }));
  };
}
