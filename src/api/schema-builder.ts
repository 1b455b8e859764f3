// Kubernetes-flavoured wrappers around TypeBox. Every builder takes the field's
// description first, so a field without documentation cannot be written, and
// every builder returns a TypeBox schema whose static type is what the API
// server serves (defaults applied). `toOpenAPI` turns the result into a
// structural OpenAPI v3 schema for the CRD.
import { Type } from '@sinclair/typebox';
import type { TSchema, TObject, TProperties, TUnsafe, TArray } from '@sinclair/typebox';

/** One CEL rule as the API server takes it in `x-kubernetes-validations`. */
export interface CelRule {
  rule: string;
  message: string;
  /** Field path the error is reported at, relative to the schema holding the rule. */
  fieldPath?: string;
  reason?:
    'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

interface Common<T> {
  default?: T;
  rules?: CelRule[];
}

/** Options that pass straight into the OpenAPI schema. */
type Extra = Record<string, unknown>;

function annotate<T>(description: string, common: Common<T> | undefined, extra: Extra = {}): Extra {
  const out: Extra = { description, ...extra };
  if (common?.default !== undefined) out.default = common.default;
  if (common?.rules && common.rules.length > 0) out['x-kubernetes-validations'] = common.rules;
  return out;
}

export interface StringOptions extends Common<string> {
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  format?: string;
}

export function string(description: string, opts: StringOptions = {}) {
  const { default: _d, rules: _r, ...rest } = opts;
  return Type.String(annotate(description, opts, rest));
}

/** A string restricted to a closed set of values (rendered as an OpenAPI `enum`). */
export function stringEnum<const V extends readonly string[]>(
  description: string,
  values: V,
  opts: Common<V[number]> = {},
): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({
    type: 'string',
    enum: [...values],
    ...annotate(description, opts),
  });
}

export interface NumberOptions extends Common<number> {
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  format?: 'int32' | 'int64' | 'double';
}

export function integer(description: string, opts: NumberOptions = {}) {
  const { default: _d, rules: _r, ...rest } = opts;
  return Type.Integer(annotate(description, opts, rest));
}

export function number(description: string, opts: NumberOptions = {}) {
  const { default: _d, rules: _r, ...rest } = opts;
  return Type.Number(annotate(description, opts, rest));
}

export function boolean(description: string, opts: Common<boolean> = {}) {
  return Type.Boolean(annotate(description, opts));
}

/** An integer or a string such as "25%" (Kubernetes IntOrString). */
export function intOrString(
  description: string,
  opts: Common<number | string> & { pattern?: string } = {},
): TUnsafe<number | string> {
  // A structural schema allows exactly these two anyOf branches, nothing in them.
  return Type.Unsafe<number | string>({
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    minimum: 0,
    ...(opts.pattern ? { pattern: opts.pattern } : {}),
    ...annotate(description, opts),
  });
}

/** A resource quantity such as `2`, `500m` or `4Gi`. */
export function quantity(description: string): TUnsafe<number | string> {
  return Type.Unsafe<number | string>({
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: QUANTITY_PATTERN,
    description,
  });
}

// The API server's own quantity grammar (resource.Quantity), anchored.
const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/** A map of string to string, e.g. labels or a node selector. */
export function stringMap(
  description: string,
  opts: Common<Record<string, string>> & {
    maxProperties?: number;
    /** Constraints on every value (a label value's length and pattern). */
    values?: { maxLength?: number; pattern?: string };
  } = {},
): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string', ...opts.values },
    ...(opts.maxProperties ? { maxProperties: opts.maxProperties } : {}),
    ...annotate(description, opts),
  });
}

/** An object whose contents the API server keeps as they are (e.g. a core/v1 Affinity). */
export function freeform<T>(description: string): TUnsafe<T> {
  return Type.Unsafe<T>({
    type: 'object',
    'x-kubernetes-preserve-unknown-fields': true,
    description,
  });
}

export interface ObjectOptions extends Common<Record<string, unknown>> {
  /** Marks the object as a unit for server-side apply (`x-kubernetes-map-type: atomic`). */
  atomic?: boolean;
}

export function object<P extends TProperties>(
  description: string,
  properties: P,
  opts: ObjectOptions = {},
): TObject<P> {
  return Type.Object(
    properties,
    annotate(description, opts, opts.atomic ? { 'x-kubernetes-map-type': 'atomic' } : {}),
  );
}

export interface ArrayOptions extends Common<unknown[]> {
  maxItems: number;
  minItems?: number;
  /** Server-side apply list semantics; `map` needs `listMapKeys`. */
  listType?: 'atomic' | 'map' | 'set';
  listMapKeys?: string[];
}

// maxItems is mandatory: the API server bounds CEL cost by it.
export function array<S extends TSchema>(
  description: string,
  items: S,
  opts: ArrayOptions,
): TArray<S> {
  const { default: _d, rules: _r, listType, listMapKeys, ...rest } = opts;
  return Type.Array(
    items,
    annotate(description, opts, {
      ...rest,
      ...(listType ? { 'x-kubernetes-list-type': listType } : {}),
      ...(listMapKeys ? { 'x-kubernetes-list-map-keys': listMapKeys } : {}),
    }),
  );
}

export const optional = <S extends TSchema>(schema: S) => Type.Optional(schema);

/**
 * Converts a TypeBox schema into the structural OpenAPI v3 schema that a CRD
 * embeds: plain JSON (no TypeBox symbols), and fields that have a default are
 * not listed as required (the API server fills them in).
 */
export function toOpenAPI(schema: TSchema): Record<string, unknown> {
  return completeDefaults(convert(schema) as Record<string, unknown>);
}

/**
 * Fills an object's `default` with its fields' defaults, recursively. The API
 * server checks each default against the CEL rules beside it without applying
 * nested defaults first, so `default: {}` would fail rules that read fields.
 */
function completeDefaults(node: Record<string, unknown>): Record<string, unknown> {
  const props = node.properties as Record<string, Record<string, unknown>> | undefined;
  if (props) for (const child of Object.values(props)) completeDefaults(child);
  if (node.items) completeDefaults(node.items as Record<string, unknown>);
  const value = node.default;
  if (props && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const filled = { ...(value as Record<string, unknown>) };
    for (const [name, child] of Object.entries(props)) {
      if (filled[name] === undefined && child.default !== undefined)
        filled[name] = structuredClone(child.default);
    }
    node.default = filled;
  }
  return node;
}

function convert(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convert);
  if (node === null || typeof node !== 'object') return node;
  const input = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  // Object.keys skips TypeBox's symbol-keyed metadata; a fixed key order keeps
  // the generated YAML readable and its diffs small.
  for (const key of Object.keys(input).sort(byKeyOrder)) {
    if (key === '$id') continue;
    const value = input[key];
    if (key === 'default' || key === 'enum' || key === 'x-kubernetes-validations') {
      out[key] = structuredClone(value);
    } else if (key === 'properties') {
      // Field order stays as declared.
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, convert(v)]),
      );
    } else {
      out[key] = convert(value);
    }
  }
  if (Array.isArray(out.required) && out.properties && typeof out.properties === 'object') {
    const props = out.properties as Record<string, Record<string, unknown>>;
    const required = (out.required as string[]).filter((k) => props[k]?.default === undefined);
    if (required.length > 0) out.required = required;
    else delete out.required;
  }
  // An object without fields (versionPolicy.all: {}) gets no `properties: {}`:
  // the API server drops it from the stored CRD, so a server-side apply of the
  // same file by a second field manager would conflict on spec.versions.
  if (
    out.properties &&
    typeof out.properties === 'object' &&
    Object.keys(out.properties).length === 0
  ) {
    delete out.properties;
  }
  return out;
}

const FIRST = ['type', 'description'];
const LAST = [
  'required',
  'properties',
  'additionalProperties',
  'items',
  'x-kubernetes-validations',
];

function rank(key: string): number {
  const first = FIRST.indexOf(key);
  if (first >= 0) return first - FIRST.length;
  const last = LAST.indexOf(key);
  return last >= 0 ? 1 + last : 0;
}

function byKeyOrder(a: string, b: string): number {
  return rank(a) - rank(b) || a.localeCompare(b);
}
