// One backend in one process (a process holds one libtensorflow build): loads
// the CNN as the runtime does and either runs it once (its ops' placement is
// in TensorFlow's log on stderr) or measures its throughput at each batch
// size. Prints one JSON line.
// Usage: tsx bench/gpu/child.ts <backend> <model dir> placement|throughput [seconds] [batches]

import { loadBackend } from '../../src/runtime/backends/select.js';
import type { BackendName } from '../../src/runtime/backends/select.js';
import { loadModel } from '../../src/runtime/models/load.js';
import type { TensorMap } from '../../src/runtime/tensors.js';

export interface ChildResult {
  backend: BackendName;
  device: 'gpu' | 'cpu';
  throughput: { batch: number; rowsPerSecond: number; msPerBatch: number }[];
}

const [backend, dir, mode, seconds = '5', batches = '1,32'] = process.argv.slice(2) as [
  BackendName,
  string,
  'placement' | 'throughput',
  string?,
  string?,
];

const { tf, device } = await loadBackend(backend);
const model = await loadModel(tf, backend, dir, 'tfjs-layers', 'serving_default');
const input = model.signature.inputs[0];
if (input === undefined) throw new Error('the model has no input');

function batchOf(rows: number): TensorMap {
  const shape = input!.shape.map((d, i) => (i === 0 ? rows : d));
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 255) / 255;
  return { [input!.name]: { dtype: 'float32', shape, data } };
}

const result: ChildResult = { backend, device, throughput: [] };
if (mode === 'placement') {
  await model.run(batchOf(1));
} else {
  for (const rows of batches.split(',').map(Number)) {
    const inputs = batchOf(rows);
    for (let i = 0; i < 3; i++) await model.run(inputs);
    let runs = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < Number(seconds) * 1000) {
      await model.run(inputs);
      runs++;
    }
    const ms = performance.now() - t0;
    result.throughput.push({
      batch: rows,
      rowsPerSecond: (runs * rows * 1000) / ms,
      msPerBatch: ms / runs,
    });
  }
}
model.dispose();
process.stdout.write(`${JSON.stringify(result)}\n`);
