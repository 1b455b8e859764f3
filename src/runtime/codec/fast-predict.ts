// The fast path for the most common TF Serving predict body: a model with one
// float input and a body `{"instances": <numbers>}` or `{"inputs": <numbers>}`
// (optionally with "signature_name"). The numbers go straight from the bytes
// into a Float32Array. Anything else, and any request the checks would
// refuse, answers undefined: the general decoder then handles it and writes
// the precise error, so validation lives in one place.

import type { ModelSignature } from '../models/signature.js';
import type { TensorMap } from '../tensors.js';
import type { JsonScanner } from './json-scanner.js';
import type { TfServingRequest } from './tfserving.js';
import { validateInputs } from './validate.js';

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COLON = 0x3a;
const COMMA = 0x2c;

/** Inputs the fast path serves: float32 with the float32 range (FP16 has a narrower one). */
export function fastPathInput(sig: ModelSignature): string | undefined {
  const spec = sig.inputs[0];
  if (sig.inputs.length !== 1 || spec === undefined) return undefined;
  if (spec.dtype !== 'float32' || spec.tfDtype === 'DT_HALF') return undefined;
  return spec.name;
}

export function fastDecodePredict(
  scanner: JsonScanner,
  body: Uint8Array,
  sig: ModelSignature,
): TfServingRequest | undefined {
  const input = fastPathInput(sig);
  if (input === undefined) return undefined;
  scanner.reset(body);
  if (!scanner.take(OPEN_OBJECT)) return undefined;
  let format: TfServingRequest['format'] | undefined;
  let data: { shape: number[]; values: Float32Array } | undefined;
  let signatureName: string | undefined;
  do {
    const key = scanner.string();
    if (key === undefined || !scanner.take(COLON)) return undefined;
    if (key === 'instances' || key === 'inputs') {
      if (format !== undefined) return undefined;
      const scanned = scanner.numericArray();
      if (scanned === undefined) return undefined;
      format = key === 'instances' ? 'row' : 'columnar';
      data = { shape: scanned.shape, values: scanner.values() };
    } else if (key === 'signature_name' && signatureName === undefined) {
      signatureName = scanner.string();
      if (signatureName === undefined) return undefined;
    } else {
      return undefined;
    }
  } while (scanner.take(COMMA));
  if (!scanner.take(CLOSE_OBJECT) || !scanner.atEnd) return undefined;
  if (format === undefined || data === undefined) return undefined;
  if (signatureName !== undefined && signatureName !== '' && signatureName !== sig.name) {
    return undefined;
  }
  // Row and columnar read the same tensor here: rows of one input are its dimension 0.
  const inputs: TensorMap = { [input]: { dtype: 'float32', shape: data.shape, data: data.values } };
  try {
    return { format, inputs, rows: validateInputs(sig, inputs) };
  } catch {
    return undefined;
  }
}
