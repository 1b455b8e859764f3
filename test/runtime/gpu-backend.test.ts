// The tensorflow-gpu backend on a machine without a GPU, as the GPU image
// runs on a node without one: @tensorflow/tfjs-node-gpu (built by
// `npm run setup:native` against the tensorflow wheel's libtensorflow) loads
// TensorFlow's CUDA build, which finds no GPU and computes on the CPU; the
// backend reports device cpu, `auto` takes it where the CPU build is absent,
// and the runtime says so in its log, its metric and its model metadata.
// In a file of its own: a process holds one libtensorflow build only.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cudaArchs } from '../../scripts/cuda-archs.js';
import {
  loadBackend,
  NO_GPU_NOTE,
  NVIDIA_CONTROL_DEVICE,
  PROCESS_HOST,
} from '../../src/runtime/backends/select.js';
import { NATIVE_VERSIONS, nativeSkipReason, nativeStatus } from './native.js';
import { startProcess, waitReady } from './process.js';

// TensorFlow's start-up messages that no GPU is here (some at error level) stay out of test output.
process.env['TF_CPP_MIN_LOG_LEVEL'] = '3';

const status = nativeStatus();
const skip =
  nativeSkipReason(status) ??
  (existsSync(NVIDIA_CONTROL_DEVICE)
    ? 'a GPU is visible here: these tests are for a machine without one'
    : undefined);

/** The file this process mapped for a library name. */
function mapped(library: string): string | undefined {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .map((line) => line.split(/\s+/)[5])
    .find((file) => file?.endsWith(`/${library}`));
}

describe.skipIf(skip !== undefined)('tensorflow-gpu without a GPU', () => {
  it('loads the CUDA build of the pinned TensorFlow, finds no GPU and computes on the CPU', async () => {
    const be = await loadBackend('tensorflow-gpu');
    expect(be.name).toBe('tensorflow-gpu');
    expect(be.tfjsBackend).toBe('tensorflow');
    expect(be.device).toBe('cpu');
    const binding = (be.tf.backend() as unknown as { binding: { TF_Version: string } }).binding;
    expect(binding.TF_Version).toBe(NATIVE_VERSIONS.tensorflow);
    // The library in this process is the GPU build: it carries machine code up to Hopper.
    const lib = mapped('libtensorflow_cc.so.2');
    expect(lib).toContain('libtensorflow-gpu-');
    const archs = cudaArchs(lib as string);
    expect(archs.cubin).toContain('sm_90');
    expect(archs.cubin).toContain('sm_80');
    // The op whose result regressed after 2.16 behaves on this build too.
    expect(Array.from(be.tf.round(be.tf.tensor1d([1, -2, 3], 'int32')).dataSync())).toEqual([
      1, -2, 3,
    ]);
    const y = be.tf.matMul(be.tf.tensor2d([[1, 2]]), be.tf.tensor2d([[3], [4]]));
    expect(Array.from(y.dataSync())).toEqual([11]);
  }, 60_000);

  it('is what auto picks where the CPU build is not installed (the GPU image)', async () => {
    const be = await loadBackend('auto', {
      ...PROCESS_HOST,
      environment: () => ({ gpuVisible: false, cpuBuildInstalled: false }),
    });
    expect(be.name).toBe('tensorflow-gpu');
    expect(be.device).toBe('cpu');
    expect(be.skipped).toEqual([]);
  }, 60_000);

  it('the runtime says so in its log, its backend metric and its model metadata, and serves', async () => {
    if (!status.available) throw new Error(status.reason);
    const rt = await startProcess(
      [
        '--model-name',
        'hpt',
        '--model-uri',
        join(status.manifest.savedModels, 'half_plus_two'),
        '--backend',
        'tensorflow-gpu',
        '--workers',
        '1',
      ],
      { TF_CPP_MIN_LOG_LEVEL: '3' },
    );
    try {
      await waitReady(rt.port);
      const warning = rt.logs.find((l) => l['msg'] === `tensorflow-gpu: ${NO_GPU_NOTE}`);
      expect(warning).toMatchObject({ level: 40, backend: 'tensorflow-gpu', device: 'cpu' });
      const oip = (await (await fetch(`http://127.0.0.1:${rt.port}/v2/models/hpt`)).json()) as {
        parameters: Record<string, string>;
      };
      expect(oip.parameters).toMatchObject({ backend: 'tensorflow-gpu', device: 'cpu' });
      const tfs = (await (
        await fetch(`http://127.0.0.1:${rt.port}/v1/models/hpt/metadata`)
      ).json()) as { metadata: { tensorfleet: Record<string, string> } };
      expect(tfs.metadata.tensorfleet).toEqual({
        backend: 'tensorflow-gpu',
        tfjs_backend: 'tensorflow',
        device: 'cpu',
        format: 'tf-saved-model',
      });
      const metrics = await (await fetch(`http://127.0.0.1:${rt.port}/metrics`)).text();
      expect(metrics).toContain(
        'tensorfleet_runtime_backend_info{model="hpt",version="1",backend="tensorflow-gpu",tfjs_backend="tensorflow",device="cpu",format="tf-saved-model"} 1',
      );
      const res = await fetch(`http://127.0.0.1:${rt.port}/v1/models/hpt:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: [1, 2, 5] }),
      });
      expect(await res.json()).toEqual({ predictions: [2.5, 3, 4.5] });
    } finally {
      rt.child.kill('SIGTERM');
      await rt.exited;
    }
  }, 90_000);
});
