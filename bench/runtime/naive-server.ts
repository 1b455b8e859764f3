// (4) The baseline: what a user would write instead. A plain fastify handler
// that parses the JSON body, flattens it, and predicts inline on the event
// loop. Started as a child process by the bench: argv = modelDir port [backend].

import Fastify from 'fastify';
import type * as tfjs from '@tensorflow/tfjs';
import type { BackendName } from '../../src/runtime/backends/select.js';
import { loadBackend } from '../../src/runtime/backends/select.js';
import { detectFormat } from '../../src/runtime/models/format.js';
import { readArtifacts } from '../../src/runtime/models/load.js';

const [modelDir, portArg, backend] = process.argv.slice(2);
if (modelDir === undefined) throw new Error('usage: naive-server <modelDir> <port> [backend]');
// Through the runtime's loader, so the native backends (a separate package) work too.
const { tf } = await loadBackend((backend ?? 'wasm') as BackendName);
const artifacts = await readArtifacts(modelDir);
const format = await detectFormat(modelDir);
const model =
  format === 'tfjs-layers'
    ? await tf.loadLayersModel(tf.io.fromMemory(artifacts))
    : await tf.loadGraphModel(tf.io.fromMemory(artifacts));
const inputShape =
  (format === 'tfjs-layers'
    ? (model as tfjs.LayersModel).inputs[0]?.shape
    : (model as tfjs.GraphModel).inputs[0]?.shape) ?? [];

const app = Fastify({ bodyLimit: 64 * 1024 * 1024 });
app.post('/v1/models/:name', (req, reply) => {
  const { instances } = req.body as { instances: unknown[] };
  const flat = instances.flat(Infinity) as number[];
  const shape = [instances.length, ...inputShape.slice(1).map((d) => d ?? 1)];
  const predictions = tf.tidy(() => {
    const y = model.predict(tf.tensor(flat, shape)) as tfjs.Tensor;
    return y.arraySync();
  });
  void reply.send({ predictions });
});
await app.listen({ host: '127.0.0.1', port: Number(portArg ?? 0) });
const addr = app.server.address();
process.stdout.write(`listening ${typeof addr === 'object' && addr !== null ? addr.port : 0}\n`);
