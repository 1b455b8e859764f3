// The model service: the one object the HTTP layer talks to. It owns the
// model's lifecycle (loading -> ready -> draining -> stopped), the worker
// pool, the HTTP thread's copy of a small model (inline-model.ts) and the
// batcher, which sends each batch to one or the other, and records metrics.

import { setImmediate as afterIo, setTimeout as sleep } from 'node:timers/promises';
import { Batcher } from './batching/batcher.js';
import type { BackendName, Device } from './backends/select.js';
import { NO_GPU_NOTE } from './backends/select.js';
import type { ServeConfig } from '../contract/runtime.js';
import { RuntimeError } from './errors.js';
import { detectFormat } from './models/format.js';
import type { ModelFormat } from './models/format.js';
import type { ModelSignature } from './models/signature.js';
import { isBatchable } from './models/signature.js';
import type { DecodedRequests, DecodeTask, Protocol } from './codec/decode.js';
import { decodeBody } from './codec/decode.js';
import type { RuntimeMetrics } from './metrics.js';
import type { RequestBodies } from './request-bodies.js';
import { InlineModel } from './inline-model.js';
import type { RuntimeLogger } from './logger.js';
import type { TensorMap } from './tensors.js';
import { WorkerPool } from './workers/worker-pool.js';
import { qualityOn, qualityTarget } from './quality/target.js';

export type ServiceState = 'loading' | 'ready' | 'failed' | 'draining' | 'stopped';

export interface ModelInfo {
  name: string;
  version: string;
  format: ModelFormat;
  backend: BackendName;
  tfjsBackend: string;
  /** Where the model computes: cpu for tensorflow-gpu without a usable GPU. */
  device: Device;
  signature: ModelSignature;
}

export interface InferOutcome {
  outputs: TensorMap;
  batchSize: number;
  /** The model that computed the outputs (its signature encodes them). */
  model: ModelInfo;
}

export interface ServiceOptions {
  config: ServeConfig;
  metrics: RuntimeMetrics;
  /** The owner of request-body memory: the same one the app reads bodies into. */
  bodies: RequestBodies;
  logger?: RuntimeLogger;
  /**
   * Resolves the model URI to a local directory (downloading remote models),
   * telling `progress` how the download goes.
   */
  resolveModelDir: (uri: string, progress: (detail: string) => void) => Promise<string>;
  /** For tests: a random source for failure injection. */
  random?: () => number;
}

/** Weight of the newest arrival in the running concurrency average. */
const CONCURRENCY_ALPHA = 0.1;
/** The running concurrency below which requests count as coming one at a time. */
const SERIAL_CONCURRENCY = 1.25;

export class ModelService {
  private readonly opts: ServiceOptions;
  private pool: WorkerPool | undefined;
  /** The HTTP thread's copy of a small, fast model, for lone requests (inline-model.ts). */
  private inline: InlineModel | undefined;
  private batcher: Batcher | undefined;
  private info: ModelInfo | undefined;
  private failure: RuntimeError | undefined;
  private progress = '';
  private admitted = 0;
  /** Running average of requests in flight as each one arrives (1: they come one at a time). */
  private concurrency = 1;
  private idleWaiters: (() => void)[] = [];
  state: ServiceState = 'loading';

  constructor(opts: ServiceOptions) {
    this.opts = opts;
    opts.metrics.attach({
      queueDepth: () => this.batcher?.depth ?? 0,
      inflightBatches: () => this.batcher?.inflight ?? 0,
      modelMemory: () => [
        ...(this.pool?.memory() ?? []),
        ...(this.inline === undefined ? [] : [this.inline.memory()]),
      ],
      ready: () => this.state === 'ready',
    });
  }

  /** The loaded model, for metadata endpoints; 503 with Retry-After while it loads. */
  loadedModel(): ModelInfo {
    if (this.info === undefined) {
      throw new RuntimeError(
        'MODEL_NOT_READY',
        'the model is still loading; its metadata is not known yet',
        { retryAfterSeconds: 1 },
      );
    }
    return this.info;
  }

  get error(): RuntimeError | undefined {
    return this.failure;
  }

  /** While loading: how far the download is ('' when there is none). */
  get loadingDetail(): string {
    return this.state === 'loading' ? this.progress : '';
  }

  get config(): ServeConfig {
    return this.opts.config;
  }

  /** This version's metrics (its requests, batches and in-flight gauge). */
  get metrics(): RuntimeMetrics {
    return this.opts.metrics;
  }

  /** Fetches, loads and warms up the model in every worker; the service is ready afterwards. */
  async start(): Promise<ModelInfo> {
    const { config, metrics, bodies, logger } = this.opts;
    const t0 = performance.now();
    try {
      const dir = await this.opts.resolveModelDir(config.modelUri, (detail) => {
        this.progress = detail;
      });
      this.progress = 'loading the model';
      const format = config.modelFormat === 'auto' ? await detectFormat(dir) : config.modelFormat;
      const pool = new WorkerPool({
        workers: config.workers,
        decodeWorkers: config.decodeWorkers,
        init: {
          modelDir: dir,
          format,
          backend: config.backend,
          signatureName: config.signature,
          warmupIterations: config.warmupIterations,
        },
        bodies,
        logger,
      });
      const ready = await pool.start();
      this.pool = pool;
      const signature = ready.signature;
      // Quality flags the model cannot satisfy fail the load, not every request (CONFIG_INVALID).
      if (qualityOn(config)) qualityTarget(config, signature);
      const inline = await this.loadInline(ready.backend, ready.device, dir, ready.format);
      this.inline = inline;
      this.batcher = new Batcher(
        {
          maxBatchSize: config.maxBatchSize,
          batchTimeoutMicros: config.batchTimeoutMicros,
          maxQueueSize: config.maxQueueSize,
          batchable: isBatchable(signature),
        },
        {
          run: async (inputs, parts) => {
            const only = inputs.length === 1 ? inputs[0] : undefined;
            const rows = parts[0]?.rows ?? 1;
            if (inline === undefined || only === undefined) {
              metrics.countBatch('worker');
              return pool.infer(inputs, parts);
            }
            const here = await this.aloneAfterIo(inline, rows);
            metrics.countBatch(here ? 'http' : 'worker');
            const result = here
              ? await inline.run(only).finally(() => bodies.release(inputs))
              : await pool.infer(inputs, parts);
            inline.observe(result.computeSeconds, rows);
            return result;
          },
          capacity: () => pool.idleCount(),
          spare: () => pool.spareCount(),
        },
        {
          onBatch: (rows) => metrics.observeBatch(rows),
        },
      );
      pool.onIdle = () => this.batcher?.pump();
      this.info = {
        name: config.modelName,
        version: config.modelVersion,
        format: ready.format,
        backend: ready.backend,
        tfjsBackend: ready.tfjsBackend,
        device: ready.device,
        signature,
      };
      const seconds = (performance.now() - t0) / 1000;
      metrics.modelLoad.set(metrics.labels(), seconds);
      metrics.setBackendInfo({
        backend: ready.backend,
        tfjs_backend: ready.tfjsBackend,
        device: ready.device,
        format: ready.format,
      });
      if (ready.backend === 'tensorflow-gpu' && ready.device === 'cpu') {
        logger?.warn(
          { backend: ready.backend, device: ready.device },
          `tensorflow-gpu: ${NO_GPU_NOTE}`,
        );
      }
      logger?.info(
        {
          backend: ready.backend,
          device: ready.device,
          skipped: ready.skipped,
          format: ready.format,
          workers: config.workers,
          loadSeconds: seconds,
          warmupSeconds: ready.warmupSeconds,
          httpThreadComputeMsPerRow: inline?.computeMsPerRow,
        },
        `model ${config.modelName} version ${config.modelVersion} ready on backend ${ready.backend}`,
      );
      if (this.state === 'loading') this.state = 'ready';
      return this.info;
    } catch (err) {
      this.failure =
        err instanceof RuntimeError
          ? err
          : new RuntimeError('MODEL_LOAD_FAILED', (err as Error).message, { cause: err });
      this.state = 'failed';
      throw this.failure;
    }
  }

  /** The HTTP thread's copy of the model, unless it is too large or slow (or turned off). */
  private async loadInline(
    backend: BackendName,
    device: Device,
    modelDir: string,
    format: ModelFormat,
  ): Promise<InlineModel | undefined> {
    const { config, logger } = this.opts;
    if (config.inferOnHttpThreadMaxMs === 0) return undefined;
    try {
      const out = await InlineModel.load({
        backend,
        device,
        modelDir,
        format,
        signatureName: config.signature,
        maxComputeMs: config.inferOnHttpThreadMaxMs,
      });
      if (out.model === undefined)
        logger?.info({ reason: out.reason }, 'every request computes in the workers');
      return out.model;
    } catch (err) {
      // The workers loaded it: serving goes on without the shortcut.
      logger?.error(
        { err },
        'the HTTP thread could not load the model; every request computes in the workers',
      );
      return undefined;
    }
  }

  /**
   * Whether a lone request should compute on this thread: it should be quick,
   * requests have been coming one at a time, and no other is in flight even
   * after those already read from sockets have been admitted. Without the
   * pass over pending I/O, each request of a concurrent load would find
   * itself alone in turn; without the history, a load of a few clients would
   * often be computed here one request at a time instead of in batches.
   */
  private async aloneAfterIo(inline: InlineModel, rows: number): Promise<boolean> {
    if (this.admitted > 1 || this.concurrency > SERIAL_CONCURRENCY || !inline.fits(rows))
      return false;
    await afterIo();
    return this.admitted <= 1;
  }

  /**
   * Runs one request from admission to response. While draining, requests are
   * still served (the server decides which connections may send them, see
   * http/connections.ts); once stopped, they are refused. drain() waits for the
   * admitted ones.
   */
  async handle<T>(fn: () => Promise<T>): Promise<T> {
    if (this.state === 'stopped') {
      throw new RuntimeError(
        'DRAINING',
        'the runtime is shutting down and accepts no new requests',
        {
          retryAfterSeconds: 1,
        },
      );
    }
    this.admitted++;
    this.concurrency += CONCURRENCY_ALPHA * (this.admitted - this.concurrency);
    try {
      return await fn();
    } finally {
      this.admitted--;
      if (this.admitted === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Loaded and warmed up (whatever the state has become since). */
  get isLoaded(): boolean {
    return this.info !== undefined;
  }

  /** Requests admitted and not yet answered. */
  get inflight(): number {
    return this.admitted;
  }

  /** The model requests run on, or the error they get while it cannot serve (as in decode and infer). */
  servingModel(): ModelInfo {
    return this.assertServing().info;
  }

  /** Throws the error a request should get when the model cannot serve now. */
  private assertServing(): { pool: WorkerPool; batcher: Batcher; info: ModelInfo } {
    if (this.state === 'stopped') {
      throw new RuntimeError(
        'DRAINING',
        'the runtime is shutting down and accepts no new requests',
        {
          retryAfterSeconds: 1,
        },
      );
    }
    if (this.pool === undefined || this.batcher === undefined || this.info === undefined) {
      if (this.state === 'failed') {
        throw new RuntimeError(
          'MODEL_NOT_READY',
          `the model failed to load: ${this.failure?.message ?? 'unknown error'}`,
        );
      }
      throw new RuntimeError(
        'MODEL_NOT_READY',
        `the model is still loading${this.progress === '' ? '' : ` (${this.progress})`}`,
        { retryAfterSeconds: 1 },
      );
    }
    return { pool: this.pool, batcher: this.batcher, info: this.info };
  }

  /**
   * Decodes a request body into its protocol's validated request: on this
   * thread or in a worker, whichever is free to.
   */
  async decode<P extends Protocol>(task: DecodeTask<P>): Promise<DecodedRequests[P]> {
    const { pool, info } = this.assertServing();
    const config = this.opts.config;
    const size = task.body.byteLength;
    // Decoded here: binary tensor bodies (a copy, cheaper than a thread hop); small bodies;
    // any body when this is the only request in flight (this thread is idle then, and a hop
    // would only add latency); and bodies up to --decode-on-http-thread-max-bytes while the
    // workers are busy (compute is then the bottleneck, so decoding there would slow it).
    // Other JSON bodies go to the workers, which keeps this thread free for HTTP.
    const binary = task.headerLength !== undefined;
    if (
      binary ||
      size < config.decodeInWorkersMinBytes ||
      this.admitted <= 1 ||
      (size <= config.decodeOnHttpThreadMaxBytes && pool.busy())
    ) {
      return decodeBody(task, info.signature, this.opts.bodies.isBody(task.body));
    }
    if (pool.queued() >= this.opts.config.maxQueueSize) {
      throw new RuntimeError(
        'QUEUE_FULL',
        `the decode queue is full (${this.opts.config.maxQueueSize} requests waiting); retry later`,
        { retryAfterSeconds: 1 },
      );
    }
    return pool.decode(task);
  }

  /** Whether `view` lies in a request body's own buffer, so a tensor may view it (request-bodies.ts). */
  isRequestBody(view: ArrayBufferView): boolean {
    return this.opts.bodies.isBody(view);
  }

  /** Runs through the batcher; `timeoutMs` can only shorten the configured deadline. */
  async infer(
    inputs: TensorMap,
    rows: number | undefined,
    timeoutMs?: number,
  ): Promise<InferOutcome> {
    const { batcher, info } = this.assertServing();
    const { metrics, config } = this.opts;
    const rate = config.injectErrorRate;
    if (rate > 0 && (this.opts.random ?? Math.random)() < rate) {
      throw new RuntimeError(
        'INJECTED_FAILURE',
        `injected failure (--inject-error-rate ${rate}, for tests only)`,
      );
    }
    if (config.injectLatencyMs > 0) await sleep(config.injectLatencyMs);
    const deadline = Math.min(config.requestTimeoutMs, timeoutMs ?? Infinity);
    const result = await batcher.submit(inputs, rows, deadline);
    metrics.observeQueueAndCompute(result.queueSeconds, result.computeSeconds);
    return { outputs: result.outputs, batchSize: result.batchSize, model: info };
  }

  /** Readiness goes false; requests are still served until close(). */
  startDraining(): void {
    if (this.state === 'ready' || this.state === 'loading') this.state = 'draining';
  }

  /** Readiness goes false, and waits for admitted requests to finish. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.startDraining();
    if (this.admitted === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const done = await Promise.race([idle, timedOut]);
    clearTimeout(timer);
    if (!done) {
      this.batcher?.abort(
        new RuntimeError('DRAINING', 'the drain timeout ran out before this request ran'),
      );
    }
    return done;
  }

  async close(): Promise<void> {
    this.state = 'stopped';
    this.inline?.dispose();
    this.inline = undefined;
    await this.pool?.close();
  }
}
