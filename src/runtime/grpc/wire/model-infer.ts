// inference.GRPCInferenceService/ModelInfer's request and response, read and
// written directly on the wire (reader.ts, writer.ts) instead of through
// protobufjs's generic objects: this is the call every Triton and KServe
// client makes per prediction, and its tensors are views of the request
// bytes, never copied. The objects are the ones @grpc/proto-loader would
// give (keepCase, oneofs, empty repeated fields as []), except that int64s
// are numbers when exact (else decimal strings, as proto-loader's longs);
// test/runtime/grpc/wire.test.ts checks both against protobufjs.

import type {
  InferInputTensorMessage,
  InferParameterMessage,
  InferTensorContentsMessage,
} from '../infer-tensors.js';
import {
  WIRE_FIXED32,
  WIRE_FIXED64,
  WIRE_LENGTH,
  WIRE_VARINT,
  WireError,
  WireReader,
} from './reader.js';
import { WireWriter, lengthFieldSize, varintSize } from './writer.js';

export interface ModelInferRequest {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, InferParameterMessage>;
  inputs: InferInputTensorMessage[];
  outputs: { name?: string; parameters?: Record<string, InferParameterMessage> }[];
  raw_input_contents: Buffer[];
}

export interface InferOutputTensor {
  name: string;
  datatype: string;
  shape: readonly number[];
}

export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: InferOutputTensor[];
  raw_output_contents: Uint8Array[];
}

function parameter(r: WireReader): InferParameterMessage {
  const out: InferParameterMessage = {};
  while (!r.done) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        out.bool_param = r.bool();
        out.parameter_choice = 'bool_param';
        delete out.int64_param;
        delete out.string_param;
        break;
      case 2:
        out.int64_param = r.int64();
        out.parameter_choice = 'int64_param';
        delete out.bool_param;
        delete out.string_param;
        break;
      case 3:
        out.string_param = r.string();
        out.parameter_choice = 'string_param';
        delete out.bool_param;
        delete out.int64_param;
        break;
      default:
        r.skip(wire);
    }
  }
  return out;
}

/** One map<string, InferParameter> entry into `into`. */
function parameterEntry(r: WireReader, into: Record<string, InferParameterMessage>): void {
  let key = '';
  let value: InferParameterMessage = {};
  while (!r.done) {
    const tag = r.uint32();
    if (tag === 0x0a) key = r.string();
    else if (tag === 0x12) value = parameter(r.sub());
    else r.skip(tag & 7);
  }
  into[key] = value;
}

const readBool = (r: WireReader): boolean => r.bool();
const readInt32 = (r: WireReader): number => r.int32();
const readUint32 = (r: WireReader): number => r.uint32();
const readInt64 = (r: WireReader): number | string => r.int64();
const readUint64 = (r: WireReader): number | string => r.uint64();
const readFloat = (r: WireReader): number => r.float();
const readDouble = (r: WireReader): number => r.double();

function contents(r: WireReader): InferTensorContentsMessage {
  const out = {
    bool_contents: [] as boolean[],
    int_contents: [] as number[],
    int64_contents: [] as (number | string)[],
    uint_contents: [] as number[],
    uint64_contents: [] as (number | string)[],
    fp32_contents: [] as number[],
    fp64_contents: [] as number[],
    bytes_contents: [] as Buffer[],
  };
  while (!r.done) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        r.repeated(wire, WIRE_VARINT, readBool, out.bool_contents);
        break;
      case 2:
        r.repeated(wire, WIRE_VARINT, readInt32, out.int_contents);
        break;
      case 3:
        r.repeated(wire, WIRE_VARINT, readInt64, out.int64_contents);
        break;
      case 4:
        r.repeated(wire, WIRE_VARINT, readUint32, out.uint_contents);
        break;
      case 5:
        r.repeated(wire, WIRE_VARINT, readUint64, out.uint64_contents);
        break;
      case 6:
        r.repeated(wire, WIRE_FIXED32, readFloat, out.fp32_contents);
        break;
      case 7:
        r.repeated(wire, WIRE_FIXED64, readDouble, out.fp64_contents);
        break;
      case 8:
        if (wire !== WIRE_LENGTH) throw new WireError(`bytes_contents with wire type ${wire}`);
        out.bytes_contents.push(r.bytes());
        break;
      default:
        r.skip(wire);
    }
  }
  return out;
}

function inputTensor(r: WireReader): InferInputTensorMessage {
  const out: InferInputTensorMessage & { shape: (number | string)[] } = { shape: [] };
  while (!r.done) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        out.name = r.string();
        break;
      case 2:
        out.datatype = r.string();
        break;
      case 3:
        r.repeated(wire, WIRE_VARINT, readInt64, out.shape);
        break;
      case 4:
        parameterEntry(r.sub(), (out.parameters ??= {}));
        break;
      case 5:
        out.contents = contents(r.sub());
        break;
      default:
        r.skip(wire);
    }
  }
  return out;
}

function requestedOutput(r: WireReader): ModelInferRequest['outputs'][number] {
  const out: ModelInferRequest['outputs'][number] = {};
  while (!r.done) {
    const tag = r.uint32();
    if (tag === 0x0a) out.name = r.string();
    else if (tag === 0x12) parameterEntry(r.sub(), (out.parameters ??= {}));
    else r.skip(tag & 7);
  }
  return out;
}

export function decodeModelInferRequest(buf: Buffer): ModelInferRequest {
  const r = new WireReader(buf);
  const out: ModelInferRequest = { inputs: [], outputs: [], raw_input_contents: [] };
  while (!r.done) {
    const tag = r.uint32();
    const wire = tag & 7;
    if (wire === WIRE_LENGTH) {
      switch (tag >>> 3) {
        case 1:
          out.model_name = r.string();
          continue;
        case 2:
          out.model_version = r.string();
          continue;
        case 3:
          out.id = r.string();
          continue;
        case 4:
          parameterEntry(r.sub(), (out.parameters ??= {}));
          continue;
        case 5:
          out.inputs.push(inputTensor(r.sub()));
          continue;
        case 6:
          out.outputs.push(requestedOutput(r.sub()));
          continue;
        case 7:
          out.raw_input_contents.push(r.bytes());
          continue;
      }
    }
    r.skip(wire);
  }
  return out;
}

/**
 * Where the first raw_input_contents' bytes start in a ModelInferRequest,
 * read from the message's first bytes only (clients write the contents last,
 * after the small fields); undefined when `prefix` ends before them. The
 * transport places a large message so that they are 4-byte aligned, and the
 * tensor can then view them instead of being copied.
 */
export function rawContentsOffset(prefix: Buffer): number | undefined {
  const r = new WireReader(prefix);
  try {
    while (!r.done) {
      const tag = r.uint32();
      if (tag >>> 3 === 7 && (tag & 7) === WIRE_LENGTH) {
        r.uint32();
        return r.pos;
      }
      r.skip(tag & 7);
    }
  } catch (err) {
    // The prefix ends inside a field: no answer from it (the message itself is checked when decoded).
    if (!(err instanceof WireError)) throw err;
  }
  return undefined;
}

export function encodeModelInferResponse(res: ModelInferResponse): Buffer {
  const nameBytes = Buffer.byteLength(res.model_name);
  const versionBytes = Buffer.byteLength(res.model_version);
  const idBytes = Buffer.byteLength(res.id);
  const outputs = res.outputs.map((t) => {
    const n = Buffer.byteLength(t.name);
    const d = Buffer.byteLength(t.datatype);
    let shapeBytes = 0;
    for (const dim of t.shape) {
      if (!Number.isSafeInteger(dim) || dim < 0) throw new Error(`shape dimension ${dim}`);
      shapeBytes += varintSize(dim);
    }
    const size =
      (n > 0 ? lengthFieldSize(1, n) : 0) +
      (d > 0 ? lengthFieldSize(2, d) : 0) +
      (t.shape.length > 0 ? lengthFieldSize(3, shapeBytes) : 0);
    return { t, n, d, shapeBytes, size };
  });
  let size =
    (nameBytes > 0 ? lengthFieldSize(1, nameBytes) : 0) +
    (versionBytes > 0 ? lengthFieldSize(2, versionBytes) : 0) +
    (idBytes > 0 ? lengthFieldSize(3, idBytes) : 0);
  for (const o of outputs) size += lengthFieldSize(5, o.size);
  for (const raw of res.raw_output_contents) size += lengthFieldSize(6, raw.length);
  const w = new WireWriter(size);
  if (nameBytes > 0) w.stringField(1, res.model_name, nameBytes);
  if (versionBytes > 0) w.stringField(2, res.model_version, versionBytes);
  if (idBytes > 0) w.stringField(3, res.id, idBytes);
  for (const { t, n, d, shapeBytes, size: tensorBytes } of outputs) {
    w.messageHeader(5, tensorBytes);
    if (n > 0) w.stringField(1, t.name, n);
    if (d > 0) w.stringField(2, t.datatype, d);
    if (t.shape.length > 0) {
      // Packed, as proto3 writes repeated scalars.
      w.messageHeader(3, shapeBytes);
      for (const dim of t.shape) w.varint(dim);
    }
  }
  for (const raw of res.raw_output_contents) w.bytesField(6, raw);
  return w.finish();
}
