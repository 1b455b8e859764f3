// Data type names across the three vocabularies the runtime speaks:
// TensorFlow's DataType enum (TF Serving metadata), the Open Inference
// Protocol v2 datatypes, and the dtypes tfjs computes with.

export type TfjsDtype = 'float32' | 'int32' | 'bool' | 'string';

export const OIP_DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;
export type OipDatatype = (typeof OIP_DATATYPES)[number];

export function isOipDatatype(value: unknown): value is OipDatatype {
  return typeof value === 'string' && (OIP_DATATYPES as readonly string[]).includes(value);
}

/** The TensorFlow DataType each OIP datatype corresponds to. */
const OIP_TO_TF: Record<OipDatatype, string> = {
  BOOL: 'DT_BOOL',
  UINT8: 'DT_UINT8',
  UINT16: 'DT_UINT16',
  UINT32: 'DT_UINT32',
  UINT64: 'DT_UINT64',
  INT8: 'DT_INT8',
  INT16: 'DT_INT16',
  INT32: 'DT_INT32',
  INT64: 'DT_INT64',
  FP16: 'DT_HALF',
  FP32: 'DT_FLOAT',
  FP64: 'DT_DOUBLE',
  BYTES: 'DT_STRING',
};

const TF_TO_OIP: Record<string, OipDatatype> = Object.fromEntries(
  Object.entries(OIP_TO_TF).map(([oip, tf]) => [tf, oip as OipDatatype]),
);

export function tfDtypeToOip(tfDtype: string): OipDatatype | undefined {
  return TF_TO_OIP[tfDtype];
}

export function oipToTfDtype(datatype: OipDatatype): string {
  return OIP_TO_TF[datatype];
}

/** The tfjs dtype a TF DataType is computed in (tfjs has only four). */
export function tfDtypeToTfjs(tfDtype: string): TfjsDtype | undefined {
  switch (tfDtype) {
    case 'DT_FLOAT':
    case 'DT_HALF':
    case 'DT_DOUBLE':
      return 'float32';
    case 'DT_INT32':
    case 'DT_INT64':
    case 'DT_INT16':
    case 'DT_INT8':
    case 'DT_UINT8':
    case 'DT_UINT16':
    case 'DT_UINT32':
    case 'DT_UINT64':
      return 'int32';
    case 'DT_BOOL':
      return 'bool';
    case 'DT_STRING':
      return 'string';
    default:
      return undefined;
  }
}

export function tfjsToTfDtype(dtype: string): string {
  switch (dtype) {
    case 'float32':
      return 'DT_FLOAT';
    case 'int32':
      return 'DT_INT32';
    case 'bool':
      return 'DT_BOOL';
    case 'string':
      return 'DT_STRING';
    default:
      return 'DT_INVALID';
  }
}

/** Size in bytes of one element in the OIP binary tensor encoding (BYTES: variable). */
export function oipElementSize(datatype: OipDatatype): number | undefined {
  switch (datatype) {
    case 'BOOL':
    case 'UINT8':
    case 'INT8':
      return 1;
    case 'UINT16':
    case 'INT16':
    case 'FP16':
      return 2;
    case 'UINT32':
    case 'INT32':
    case 'FP32':
      return 4;
    case 'UINT64':
    case 'INT64':
    case 'FP64':
      return 8;
    case 'BYTES':
      return undefined;
  }
}

/** Inclusive integer range of an integer OIP datatype (64-bit types bounded to what int32 holds). */
export function integerRange(datatype: OipDatatype): [number, number] | undefined {
  switch (datatype) {
    case 'UINT8':
      return [0, 255];
    case 'UINT16':
      return [0, 65535];
    case 'UINT32':
      return [0, 4294967295];
    case 'UINT64':
      return [0, Number.MAX_SAFE_INTEGER];
    case 'INT8':
      return [-128, 127];
    case 'INT16':
      return [-32768, 32767];
    case 'INT32':
      return [-2147483648, 2147483647];
    case 'INT64':
      return [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
    default:
      return undefined;
  }
}
