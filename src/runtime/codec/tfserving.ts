// TF Serving REST predict bodies: request decoding (row "instances" and
// columnar "inputs", {"b64": ...}) and response encoding ("predictions" /
// "outputs"), as documented for TensorFlow Serving's RESTful API. Pure
// functions: they run on the HTTP thread or in a worker.

import { tfDtypeToOip } from '../dtypes.js';
import { invalidInput, RuntimeError } from '../errors.js';
import type { ModelSignature, TensorSpec } from '../models/signature.js';
import type { HostTensor, TensorMap } from '../tensors.js';
import { sizeOf } from '../tensors.js';
import type { ElementRule } from './json-values.js';
import { formatNested, ruleFor, tensorFromNested, tensorFromRows } from './json-values.js';
import { validateInputs } from './validate.js';

export interface TfServingRequest {
  format: 'row' | 'columnar';
  inputs: TensorMap;
  /** Leading dimension shared by all inputs; undefined when the request cannot be batched. */
  rows: number | undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rule(spec: TensorSpec): ElementRule {
  return ruleFor(spec.name, spec.dtype, spec.tfDtype, tfDtypeToOip(spec.tfDtype), 'tfserving');
}

function specFor(sig: ModelSignature, name: string): TensorSpec {
  const spec = sig.inputs.find((s) => s.name === name);
  if (spec === undefined) {
    throw invalidInput(
      `unknown input "${name}"; the model's inputs are ${sig.inputs.map((s) => `"${s.name}"`).join(', ')}`,
    );
  }
  return spec;
}

/** Decodes a parsed predict body. */
export function decodePredict(body: unknown, sig: ModelSignature): TfServingRequest {
  if (!isPlainObject(body)) throw invalidInput('the request body must be a JSON object');
  const hasInstances = 'instances' in body;
  const hasInputs = 'inputs' in body;
  if (hasInstances && hasInputs) {
    throw invalidInput(
      'the request has both "instances" (row format) and "inputs" (columnar format); send one',
    );
  }
  if (!hasInstances && !hasInputs) {
    throw invalidInput(
      'the request has neither "instances" (row format) nor "inputs" (columnar format)',
    );
  }
  const signatureName = body['signature_name'];
  if (signatureName !== undefined) {
    if (typeof signatureName !== 'string') throw invalidInput('"signature_name" must be a string');
    if (signatureName !== sig.name && signatureName !== '') {
      throw new RuntimeError(
        'SIGNATURE_NOT_FOUND',
        `serving signature "${signatureName}" not found; this model serves "${sig.name}"`,
      );
    }
  }
  const inputs: TensorMap = {};
  let format: TfServingRequest['format'];
  if (hasInstances) {
    format = 'row';
    const instances = body['instances'];
    if (!Array.isArray(instances)) throw invalidInput('"instances" must be a list of instances');
    if (instances.length === 0)
      throw invalidInput('"instances" is empty: the batch has no instances');
    const first: unknown = instances[0];
    const named = isPlainObject(first) && !('b64' in first);
    if (named) {
      const names = Object.keys(first);
      for (const name of names) specFor(sig, name);
      for (let i = 0; i < instances.length; i++) {
        const inst: unknown = instances[i];
        if (!isPlainObject(inst))
          throw invalidInput(`instance ${i} is not an object like instance 0`);
        const keys = Object.keys(inst);
        if (keys.length !== names.length || !keys.every((k) => names.includes(k))) {
          throw invalidInput(
            `instance ${i} has inputs ${JSON.stringify(keys)}, unlike instance 0 ${JSON.stringify(names)}`,
          );
        }
      }
      for (const name of names) {
        const spec = specFor(sig, name);
        inputs[name] = tensorFromRows(
          rule(spec),
          instances.map((inst) => (inst as Record<string, unknown>)[name]),
        );
      }
    } else {
      if (sig.inputs.length !== 1) {
        throw invalidInput(
          `the model has ${sig.inputs.length} inputs (${sig.inputs.map((s) => `"${s.name}"`).join(', ')}); each instance must be an object naming them`,
        );
      }
      const spec = sig.inputs[0] as TensorSpec;
      inputs[spec.name] = tensorFromRows(rule(spec), instances);
    }
  } else {
    format = 'columnar';
    const value = body['inputs'];
    const named = isPlainObject(value) && !('b64' in value);
    if (named) {
      for (const [name, v] of Object.entries(value))
        inputs[name] = tensorFromNested(rule(specFor(sig, name)), v);
    } else {
      if (sig.inputs.length !== 1) {
        throw invalidInput(
          `the model has ${sig.inputs.length} inputs; "inputs" must be an object naming ${sig.inputs.map((s) => `"${s.name}"`).join(', ')}`,
        );
      }
      const spec = sig.inputs[0] as TensorSpec;
      inputs[spec.name] = tensorFromNested(rule(spec), value);
    }
  }
  const rows = validateInputs(sig, inputs);
  return { format, inputs, rows };
}

function b64(spec: TensorSpec | undefined, name: string): { b64Strings: boolean } {
  return { b64Strings: spec?.dtype === 'string' && name.endsWith('_bytes') };
}

/** Encodes outputs as TF Serving does: row format -> "predictions", columnar -> "outputs". */
export function encodePredict(
  sig: ModelSignature,
  format: TfServingRequest['format'],
  outputs: TensorMap,
): string {
  const names = sig.outputs.map((o) => o.name).filter((n) => outputs[n] !== undefined);
  const tensors = names.map((n) => outputs[n] as HostTensor);
  const specs = names.map((n) => sig.outputs.find((o) => o.name === n));
  if (format === 'columnar') {
    if (names.length === 1) {
      const t = tensors[0] as HostTensor;
      return `{"outputs":${formatNested(t, t.shape, 0, b64(specs[0], names[0] as string))}}`;
    }
    const parts = names.map((n, i) => {
      const t = tensors[i] as HostTensor;
      return `${JSON.stringify(n)}:${formatNested(t, t.shape, 0, b64(specs[i], n))}`;
    });
    return `{"outputs":{${parts.join(',')}}}`;
  }
  const rows = tensors[0]?.shape[0] ?? 0;
  for (let i = 0; i < tensors.length; i++) {
    if ((tensors[i] as HostTensor).shape[0] !== rows) {
      throw new RuntimeError(
        'INFERENCE_FAILED',
        `output "${names[i]}" has ${tensors[i]?.shape[0]} rows, unlike the ${rows} of "${names[0]}"; use the columnar "inputs" format`,
      );
    }
  }
  const rowParts: string[] = [];
  for (let r = 0; r < rows; r++) {
    if (names.length === 1) {
      const t = tensors[0] as HostTensor;
      const inner = t.shape.slice(1);
      rowParts.push(formatNested(t, inner, r * sizeOf(inner), b64(specs[0], names[0] as string)));
    } else {
      const fields = names.map((n, i) => {
        const t = tensors[i] as HostTensor;
        const inner = t.shape.slice(1);
        return `${JSON.stringify(n)}:${formatNested(t, inner, r * sizeOf(inner), b64(specs[i], n))}`;
      });
      rowParts.push(`{${fields.join(',')}}`);
    }
  }
  return `{"predictions":[${rowParts.join(',')}]}`;
}
