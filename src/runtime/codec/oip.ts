// Open Inference Protocol v2 (KServe "v2" / Triton HTTP) inference bodies:
// request decoding (JSON data flat or nested, or the binary tensor extension)
// and response encoding. Pure functions: they run on the HTTP thread or in a worker.

import type { OipDatatype } from '../dtypes.js';
import { isOipDatatype, tfDtypeToOip } from '../dtypes.js';
import { invalidInput } from '../errors.js';
import type { ModelSignature, TensorSpec } from '../models/signature.js';
import type { HostTensor, TensorMap } from '../tensors.js';
import { sizeOf } from '../tensors.js';
import { decodeRaw, encodeRaw } from './binary-tensor.js';
import { classify } from './classification.js';
import {
  MAX_RANK,
  formatFlat,
  inferShape,
  ruleFor,
  tensorFromFlat,
  tensorWithShape,
} from './json-values.js';
import { formatShape, inputSpec, validateInputs } from './validate.js';

export interface RequestedOutput {
  name: string;
  binary: boolean;
  /** Triton's classification extension: the top k classes instead of the tensor. */
  classification?: number;
}

export interface OipRequest {
  id: string | undefined;
  inputs: TensorMap;
  rows: number | undefined;
  /** Outputs to return, in order; every model output when the request names none. */
  outputs: RequestedOutput[];
  /** Triton's request parameter "timeout" (microseconds), as milliseconds. */
  timeoutMs: number | undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The OIP datatype clients must send for an input (and that outputs are reported as). */
export function oipDatatype(spec: TensorSpec): OipDatatype {
  return tfDtypeToOip(spec.tfDtype) ?? 'FP32';
}

function binaryParam(params: unknown, key: string, where: string): boolean | undefined {
  if (params === undefined) return undefined;
  if (!isPlainObject(params)) throw invalidInput(`${where}: "parameters" must be an object`);
  const v = params[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean')
    throw invalidInput(`${where}: parameter "${key}" must be true or false`);
  return v;
}

/**
 * Decodes a parsed inference request. `binary` is the part of the body after
 * the JSON header when the binary extension is used; `inPlace`, that it lies
 * in a buffer holding this body alone, so tensors may view it (decodeRaw).
 */
export function decodeInfer(
  body: unknown,
  sig: ModelSignature,
  binary?: Buffer,
  inPlace = false,
): OipRequest {
  if (!isPlainObject(body)) throw invalidInput('the request body must be a JSON object');
  const id = body['id'];
  if (id !== undefined && typeof id !== 'string') throw invalidInput('"id" must be a string');
  const rawInputs = body['inputs'];
  if (!Array.isArray(rawInputs)) throw invalidInput('"inputs" must be a list of input tensors');
  if (rawInputs.length === 0) throw invalidInput('"inputs" is empty');
  const binaryDefault = binaryParam(body['parameters'], 'binary_data_output', 'request') ?? false;
  const timeout = isPlainObject(body['parameters']) ? body['parameters']['timeout'] : undefined;
  if (timeout !== undefined && (!Number.isInteger(timeout) || (timeout as number) <= 0)) {
    throw invalidInput('parameter "timeout" must be a positive integer (microseconds)');
  }
  const inputs: TensorMap = {};
  let offset = 0;
  for (let i = 0; i < rawInputs.length; i++) {
    const raw: unknown = rawInputs[i];
    if (!isPlainObject(raw)) throw invalidInput(`inputs[${i}] must be an object`);
    const name = raw['name'];
    if (typeof name !== 'string') throw invalidInput(`inputs[${i}] needs a string "name"`);
    if (name in inputs) throw invalidInput(`input "${name}" appears more than once`);
    const spec = inputSpec(sig, name);
    const datatype = raw['datatype'];
    if (!isOipDatatype(datatype)) {
      throw invalidInput(
        `input "${name}": datatype ${JSON.stringify(datatype)} is not an Open Inference Protocol datatype`,
      );
    }
    const expected = oipDatatype(spec);
    if (datatype !== expected) {
      throw invalidInput(
        `input "${name}" has datatype ${datatype} but the model expects ${expected}`,
      );
    }
    const shape = raw['shape'];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
      throw invalidInput(`input "${name}": "shape" must be a list of non-negative integers`);
    }
    if (shape.length > MAX_RANK) {
      throw invalidInput(
        `input "${name}": "shape" has ${shape.length} dimensions; a tensor has at most ${MAX_RANK}`,
      );
    }
    const dims = shape as number[];
    const count = sizeOf(dims);
    const rule = ruleFor(name, spec.dtype, datatype, datatype, 'oip');
    const params = raw['parameters'];
    if (params !== undefined && !isPlainObject(params))
      throw invalidInput(`input "${name}": "parameters" must be an object`);
    const binarySize = params?.['binary_data_size'];
    let tensor: HostTensor;
    if (binarySize !== undefined) {
      if (!Number.isInteger(binarySize) || (binarySize as number) < 0) {
        throw invalidInput(`input "${name}": binary_data_size must be a non-negative integer`);
      }
      if (binary === undefined) {
        throw invalidInput(
          `input "${name}" declares binary_data_size but the request has no Inference-Header-Content-Length header`,
        );
      }
      if ('data' in raw) throw invalidInput(`input "${name}" has both "data" and binary_data_size`);
      const size = binarySize as number;
      if (offset + size > binary.length) {
        throw invalidInput(
          `input "${name}": binary_data_size ${size} runs past the end of the body (${binary.length - offset} bytes left)`,
        );
      }
      tensor = decodeRaw(
        rule,
        datatype,
        binary.subarray(offset, offset + size),
        dims,
        count,
        inPlace,
      );
      offset += size;
    } else {
      const data = raw['data'];
      if (!Array.isArray(data))
        throw invalidInput(`input "${name}" needs "data" (a list) or binary_data_size`);
      const nested = data.length > 0 && Array.isArray(data[0]);
      if (nested) {
        const got = inferShape(data);
        if (got.length !== dims.length || got.some((d, k) => d !== dims[k])) {
          throw invalidInput(
            `input "${name}": nested data has shape ${formatShape(got)} but "shape" says ${formatShape(dims)}`,
          );
        }
        tensor = tensorWithShape(rule, data, dims);
      } else {
        if (data.length !== count) {
          throw invalidInput(
            `input "${name}": "shape" ${formatShape(dims)} needs ${count} elements but "data" has ${data.length}`,
          );
        }
        tensor = tensorFromFlat(rule, data, dims);
      }
    }
    inputs[name] = tensor;
  }
  if (binary !== undefined && offset !== binary.length) {
    throw invalidInput(
      `the body has ${binary.length - offset} bytes after the last binary input (binary_data_size values do not add up)`,
    );
  }
  const rows = validateInputs(sig, inputs);
  let outputs: RequestedOutput[];
  const requested = body['outputs'];
  if (requested === undefined) {
    outputs = sig.outputs.map((o) => ({ name: o.name, binary: binaryDefault }));
  } else {
    if (!Array.isArray(requested)) throw invalidInput('"outputs" must be a list');
    outputs = requested.map((r: unknown, i) => {
      if (!isPlainObject(r) || typeof r['name'] !== 'string')
        throw invalidInput(`outputs[${i}] needs a string "name"`);
      const name = r['name'];
      if (!sig.outputs.some((o) => o.name === name)) {
        throw invalidInput(
          `unknown output "${name}"; the model's outputs are ${sig.outputs.map((o) => `"${o.name}"`).join(', ')}`,
        );
      }
      const binary =
        binaryParam(r['parameters'], 'binary_data', `output "${name}"`) ?? binaryDefault;
      const k = isPlainObject(r['parameters']) ? r['parameters']['classification'] : undefined;
      if (k === undefined) return { name, binary };
      if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
        throw invalidInput(
          `output "${name}": "classification" must be a positive integer (the number of classes)`,
        );
      }
      if (sig.outputs.find((o) => o.name === name)?.dtype === 'string') {
        throw invalidInput(`output "${name}" holds BYTES; classification needs numbers`);
      }
      return { name, binary, classification: k };
    });
  }
  const timeoutMs = timeout === undefined ? undefined : (timeout as number) / 1000;
  return { id, inputs, rows, outputs, timeoutMs };
}

export interface OipResponse {
  /** The JSON document (the whole body, or the header of a binary body). */
  json: string;
  /** Raw output bytes following the header when any output is binary. */
  binary: Buffer[] | undefined;
}

export function encodeInfer(
  sig: ModelSignature,
  modelName: string,
  modelVersion: string,
  req: Pick<OipRequest, 'id' | 'outputs'>,
  outputs: TensorMap,
): OipResponse {
  const parts: string[] = [];
  const chunks: Buffer[] = [];
  for (const r of req.outputs) {
    const raw = outputs[r.name];
    const spec = sig.outputs.find((o) => o.name === r.name);
    if (raw === undefined || spec === undefined) continue;
    const t = r.classification === undefined ? raw : classify(raw, r.classification);
    const datatype = r.classification === undefined ? oipDatatype(spec) : 'BYTES';
    const head = `{"name":${JSON.stringify(r.name)},"datatype":"${datatype}","shape":[${t.shape.join(',')}]`;
    if (r.binary) {
      const bytes = encodeRaw(t, datatype);
      chunks.push(bytes);
      parts.push(`${head},"parameters":{"binary_data_size":${bytes.length}}}`);
    } else {
      parts.push(`${head},"data":${formatFlat(t, { b64Strings: false, refuseNonUtf8: r.name })}}`);
    }
  }
  const id = req.id === undefined ? '' : `,"id":${JSON.stringify(req.id)}`;
  const json = `{"model_name":${JSON.stringify(modelName)},"model_version":${JSON.stringify(modelVersion)}${id},"outputs":[${parts.join(',')}]}`;
  return { json, binary: chunks.length > 0 ? chunks : undefined };
}
