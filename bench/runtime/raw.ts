// (1) Raw in-process model throughput: the model called directly on this
// thread, no HTTP, no decoding. The ceiling for what serving can reach.

import type { BackendName } from '../../src/runtime/backends/select.js';
import { loadBackend } from '../../src/runtime/backends/select.js';
import { loadModel } from '../../src/runtime/models/load.js';
import { detectFormat } from '../../src/runtime/models/format.js';
import type { TensorMap } from '../../src/runtime/tensors.js';

export interface RawResult {
  batch: number;
  samplesPerSecond: number;
  /** Mean time of one model call at this batch size. */
  msPerCall: number;
}

function inputsFor(shape: number[], batch: number, name: string): TensorMap {
  const dims = [batch, ...shape.slice(1).map((d) => (d < 0 ? 1 : d))];
  const size = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = ((i * 7) % 13) / 13;
  return { [name]: { dtype: 'float32', shape: dims, data } };
}

export async function rawThroughput(
  modelDir: string,
  backend: BackendName,
  batches: number[],
  seconds: number,
): Promise<RawResult[]> {
  const be = await loadBackend(backend);
  const model = await loadModel(
    be.tf,
    be.name,
    modelDir,
    await detectFormat(modelDir),
    'serving_default',
  );
  const input = model.signature.inputs[0];
  if (input === undefined) throw new Error('model has no inputs');
  const results: RawResult[] = [];
  try {
    for (const batch of batches) {
      const inputs = inputsFor(input.shape, batch, input.name);
      for (let i = 0; i < 3; i++) await model.run(inputs);
      let calls = 0;
      const start = performance.now();
      while (performance.now() - start < seconds * 1000 || calls < 3) {
        await model.run(inputs);
        calls++;
      }
      const elapsed = (performance.now() - start) / 1000;
      results.push({
        batch,
        samplesPerSecond: (calls * batch) / elapsed,
        msPerCall: (elapsed * 1000) / calls,
      });
    }
  } finally {
    model.dispose();
  }
  return results;
}
