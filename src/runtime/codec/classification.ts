// Triton's classification extension: an output requested with
// `"parameters": {"classification": k}` (tritonclient's class_count) comes
// back as the k highest values of each row, as BYTES strings "value:index",
// highest first (ties: lower index first), shape [rows, k] ([k] for a
// one-dimensional output). Values print as Triton prints them: floats with six
// decimals (C++ std::to_string), integers as they are. TF.js models carry no
// labels file, so no ":label" part is added.

import type { HostTensor } from '../tensors.js';

const utf8 = new TextEncoder();

export function classify(t: HostTensor, k: number): HostTensor {
  const rank = t.shape.length;
  const rows = rank <= 1 ? 1 : (t.shape[0] as number);
  const values = t.data as ArrayLike<number>;
  const classes = rows === 0 ? 0 : values.length / rows;
  const top = Math.min(k, classes);
  const float = t.dtype === 'float32';
  const out: Uint8Array[] = [];
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    const order = Array.from({ length: classes }, (_, i) => i).sort(
      (a, b) => (values[base + b] as number) - (values[base + a] as number) || a - b,
    );
    for (const i of order.slice(0, top)) {
      const v = values[base + i] as number;
      out.push(utf8.encode(`${float ? v.toFixed(6) : String(v)}:${i}`));
    }
  }
  return { dtype: 'string', shape: rank <= 1 ? [top] : [rows, top], data: out };
}
