// A copy of the model on the HTTP thread, for requests that find the runtime
// idle. Handing one request to a worker and back costs more CPU than a small
// model's compute (two thread hops, each a structured clone and a wakeup:
// about 0.3 ms a request, bench/runtime), which is what an inline handler does
// not pay. So a request alone in the runtime is computed on the HTTP thread
// when it should take at most --infer-on-http-thread-max-ms: its rows times a
// running average of the time per row of lone requests (a per-row figure
// overstates large requests, the safe side). Under load every batch goes to
// the workers. A request that blocks the HTTP thread longer than expected
// delays only requests that arrive meanwhile, since nothing else was in flight.

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadBackend } from './backends/select.js';
import type { BackendName, Device } from './backends/select.js';
import { toRuntimeError } from './errors.js';
import type { ModelFormat } from './models/format.js';
import type { LoadedModel } from './models/load.js';
import { loadModel, warmupInputs } from './models/load.js';
import type { TensorMap } from './tensors.js';
import type { TfjsMemory } from './workers/messages.js';

/** A model whose files hold more than this is not copied onto the HTTP thread. */
export const INLINE_MAX_MODEL_BYTES = 64 * 1024 * 1024;
/**
 * Warmup runs come before the JIT has optimized the graph and kernels, and
 * take up to about 10x the steady time (0.8-1.3 ms against 0.1 ms for the
 * bench MLP on wasm); a copy slower than this many limits is released at once.
 */
const WARMUP_SLACK = 10;
const TIMED_RUNS = 5;
/** Weight of the newest lone request in the running compute estimate. */
const ALPHA = 0.2;

export interface InlineModelOptions {
  backend: BackendName;
  /** Where the workers' copy computes (a GPU: no copy here). */
  device: Device;
  modelDir: string;
  format: ModelFormat;
  signatureName: string;
  /** Longest lone-request compute (a running average) that may block the HTTP thread. */
  maxComputeMs: number;
}

export type InlineLoad = { model: InlineModel } | { model?: undefined; reason: string };

async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}

export class InlineModel {
  /** Running average of a lone request's compute time per row, here or in a worker. */
  private perRowMs: number;

  private constructor(
    private readonly loaded: LoadedModel,
    private readonly tfMemory: () => TfjsMemory,
    private readonly maxComputeMs: number,
    warmupMs: number,
  ) {
    this.perRowMs = warmupMs;
  }

  /** Loads and times the model here (warmup rows: 1); no model (and why) when it is too large or too slow. */
  static async load(opts: InlineModelOptions): Promise<InlineLoad> {
    // A GPU's compute dwarfs the hop, and another TensorFlow context on the device is not free.
    if (opts.device === 'gpu') return { reason: 'the model runs on a GPU' };
    const bytes = await directoryBytes(opts.modelDir);
    if (bytes > INLINE_MAX_MODEL_BYTES) {
      return {
        reason: `the model's files hold ${bytes} bytes, more than ${INLINE_MAX_MODEL_BYTES}`,
      };
    }
    const { tf } = await loadBackend(opts.backend);
    const loaded = await loadModel(
      tf,
      opts.backend,
      opts.modelDir,
      opts.format,
      opts.signatureName,
    );
    const times: number[] = [];
    for (let i = 0; i < 2 + TIMED_RUNS; i++) {
      const t0 = performance.now();
      await loaded.run(warmupInputs(loaded.signature));
      if (i >= 2) times.push(performance.now() - t0);
    }
    const warmupMs = times.sort((a, b) => a - b)[TIMED_RUNS >> 1] as number;
    if (warmupMs > WARMUP_SLACK * opts.maxComputeMs) {
      loaded.dispose();
      return {
        reason: `one request computes in ${warmupMs.toFixed(2)} ms at warmup, far above --infer-on-http-thread-max-ms ${opts.maxComputeMs}`,
      };
    }
    const tfMemory = (): TfjsMemory => {
      const m = tf.memory();
      return { numBytes: m.numBytes, numTensors: m.numTensors };
    };
    return { model: new InlineModel(loaded, tfMemory, opts.maxComputeMs, warmupMs) };
  }

  /** The running estimate of compute time per row, in milliseconds. */
  get computeMsPerRow(): number {
    return this.perRowMs;
  }

  /** Whether a lone request of `rows` rows should compute within the limit. */
  fits(rows: number): boolean {
    return this.perRowMs * rows <= this.maxComputeMs;
  }

  /** Records how long a lone request of `rows` rows computed (on any thread). */
  observe(computeSeconds: number, rows: number): void {
    this.perRowMs += ALPHA * ((computeSeconds * 1000) / Math.max(rows, 1) - this.perRowMs);
  }

  async run(inputs: TensorMap): Promise<{ outputs: TensorMap; computeSeconds: number }> {
    const t0 = performance.now();
    try {
      const outputs = await this.loaded.run(inputs);
      return { outputs, computeSeconds: (performance.now() - t0) / 1000 };
    } catch (err) {
      throw toRuntimeError(err, 'INFERENCE_FAILED');
    }
  }

  memory(): TfjsMemory {
    return this.tfMemory();
  }

  dispose(): void {
    this.loaded.dispose();
  }
}
