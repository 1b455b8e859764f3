// Prometheus metrics on a private registry (never the global one). Names use
// base units (_seconds, _bytes) and _total for counters; every series carries
// the model name and version so canary and stable pods can be told apart.
// Point-in-time values (queue depth, tfjs memory) are read in collect().

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { RUNTIME_METRICS } from '../contract/runtime.js';
import type { Protocol as HttpProtocol } from './codec/decode.js';

/** The protocol label: the two HTTP APIs, and grpc for both gRPC APIs (TF Serving's and the Open Inference Protocol's). */
export type Protocol = HttpProtocol | 'grpc';

export interface MetricsSource {
  queueDepth(): number;
  inflightBatches(): number;
  /** tfjs memory of each thread holding the model (the workers, and the HTTP thread's copy). */
  modelMemory(): { numBytes: number; numTensors: number }[];
  ready(): boolean;
}

const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/** The per-request series of one protocol and status code, label values resolved once. */
interface RequestSeries {
  count: Counter.Internal;
  duration: Histogram.Internal<'model' | 'version' | 'protocol'>;
}

/** Where a batch ran (the `thread` label of tensorfleet_runtime_batches_total). */
export type ComputeThread = 'worker' | 'http';

export class RuntimeMetrics {
  readonly registry = new Registry();
  readonly model: string;
  readonly version: string;
  private source: MetricsSource | undefined;

  readonly requests: Counter<'model' | 'version' | 'protocol' | 'code'>;
  readonly requestDuration: Histogram<'model' | 'version' | 'protocol'>;
  readonly queueDuration: Histogram<'model' | 'version'>;
  readonly computeDuration: Histogram<'model' | 'version'>;
  readonly batchSize: Histogram<'model' | 'version'>;
  readonly batches: Counter<'model' | 'version' | 'thread'>;
  readonly inflight: Gauge<'model' | 'version'>;
  readonly modelLoad: Gauge<'model' | 'version'>;
  readonly backendInfo: Gauge<
    'model' | 'version' | 'backend' | 'tfjs_backend' | 'device' | 'format'
  >;

  /**
   * Label children bound once: looking a child up by a label object hashes
   * the labels on every call, which costs the HTTP thread on every request.
   */
  private readonly requestSeries = new Map<string, RequestSeries>();
  private readonly queueSeries: Histogram.Internal<'model' | 'version'>;
  private readonly computeSeries: Histogram.Internal<'model' | 'version'>;
  private readonly batchSeries: Histogram.Internal<'model' | 'version'>;
  private readonly batchesByThread: Record<ComputeThread, Counter.Internal>;
  private readonly inflightSeries: Gauge.Internal<'model' | 'version'>;

  constructor(model: string, version: string, options: { processMetrics?: boolean } = {}) {
    this.model = model;
    this.version = version;
    const registers = [this.registry];
    const labels = { model, version };
    this.requests = new Counter({
      name: RUNTIME_METRICS.requests,
      help: 'Inference requests answered, by protocol and HTTP status code.',
      labelNames: ['model', 'version', 'protocol', 'code'],
      registers,
    });
    for (const protocol of ['tfserving', 'oip', 'grpc'] as const) {
      this.requests.inc({ ...labels, protocol, code: '200' }, 0);
    }
    this.requestDuration = new Histogram({
      name: RUNTIME_METRICS.requestDuration,
      help: 'Time from receiving an inference request to sending its response.',
      labelNames: ['model', 'version', 'protocol'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.queueDuration = new Histogram({
      name: 'tensorfleet_runtime_queue_duration_seconds',
      help: 'Time a request waited in the batching queue before its batch started.',
      labelNames: ['model', 'version'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.computeDuration = new Histogram({
      name: 'tensorfleet_runtime_compute_duration_seconds',
      help: 'Model execution time per batch, measured in the worker.',
      labelNames: ['model', 'version'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.batchSize = new Histogram({
      name: 'tensorfleet_runtime_batch_size',
      help: 'Rows per model execution after dynamic batching.',
      labelNames: ['model', 'version'],
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.batches = new Counter({
      name: 'tensorfleet_runtime_batches_total',
      help: 'Model executions, by the thread that ran them: a worker, or the HTTP thread for a request alone in the runtime.',
      labelNames: ['model', 'version', 'thread'],
      registers,
    });
    this.inflight = new Gauge({
      name: RUNTIME_METRICS.inflightRequests,
      help: 'Inference requests received and not yet answered (concurrency).',
      labelNames: ['model', 'version'],
      registers,
    });
    this.inflight.set(labels, 0);
    this.modelLoad = new Gauge({
      name: 'tensorfleet_runtime_model_load_seconds',
      help: 'Time to fetch, load and warm up the model.',
      labelNames: ['model', 'version'],
      registers,
    });
    this.backendInfo = new Gauge({
      name: 'tensorfleet_runtime_backend_info',
      help: 'Backend serving the model, and the device it computes on (value is always 1).',
      labelNames: ['model', 'version', 'backend', 'tfjs_backend', 'device', 'format'],
      registers,
    });
    // collect() runs with `this` bound to the gauge, so the source is read through a closure.
    const source = (): MetricsSource | undefined => this.source;
    new Gauge({
      name: RUNTIME_METRICS.queueDepth,
      help: 'Requests waiting in the batching queue.',
      labelNames: ['model', 'version'],
      registers,
      collect() {
        this.set(labels, source()?.queueDepth() ?? 0);
      },
    });
    new Gauge({
      name: 'tensorfleet_runtime_inflight_batches',
      help: 'Batches executing in workers.',
      labelNames: ['model', 'version'],
      registers,
      collect() {
        this.set(labels, source()?.inflightBatches() ?? 0);
      },
    });
    new Gauge({
      name: 'tensorfleet_runtime_ready',
      help: '1 when the model is loaded, warmed up and not draining.',
      labelNames: ['model', 'version'],
      registers,
      collect() {
        this.set(labels, source()?.ready() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tensorfleet_runtime_tfjs_memory_bytes',
      help: 'Bytes held by tfjs tensors, summed over the threads holding the model (workers as of their last inference).',
      labelNames: ['model', 'version'],
      registers,
      collect() {
        const mem = source()?.modelMemory() ?? [];
        this.set(
          labels,
          mem.reduce((a, m) => a + m.numBytes, 0),
        );
      },
    });
    new Gauge({
      name: 'tensorfleet_runtime_tfjs_tensors',
      help: 'Live tfjs tensors, summed over the threads holding the model (workers as of their last inference).',
      labelNames: ['model', 'version'],
      registers,
      collect() {
        const mem = source()?.modelMemory() ?? [];
        this.set(
          labels,
          mem.reduce((a, m) => a + m.numTensors, 0),
        );
      },
    });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.queueSeries = this.queueDuration.labels(labels);
    this.computeSeries = this.computeDuration.labels(labels);
    this.batchSeries = this.batchSize.labels(labels);
    this.batchesByThread = {
      worker: this.batches.labels({ ...labels, thread: 'worker' }),
      http: this.batches.labels({ ...labels, thread: 'http' }),
    };
    this.inflightSeries = this.inflight.labels(labels);
  }

  /** Counts one answered inference request and its latency. */
  observeRequest(protocol: Protocol, status: number, seconds: number): void {
    const key = `${protocol} ${status}`;
    let series = this.requestSeries.get(key);
    if (series === undefined) {
      const labels = { model: this.model, version: this.version, protocol };
      series = {
        count: this.requests.labels({ ...labels, code: String(status) }),
        duration: this.requestDuration.labels(labels),
      };
      this.requestSeries.set(key, series);
    }
    series.count.inc();
    series.duration.observe(seconds);
  }

  /** One batch: its rows, and for each of its requests the queue and compute time. */
  observeBatch(rows: number): void {
    this.batchSeries.observe(rows);
  }

  /** One model execution, on a worker or on the HTTP thread. */
  countBatch(thread: ComputeThread): void {
    this.batchesByThread[thread].inc();
  }

  observeQueueAndCompute(queueSeconds: number, computeSeconds: number): void {
    this.queueSeries.observe(queueSeconds);
    this.computeSeries.observe(computeSeconds);
  }

  /** +1 when a request is admitted, -1 when it is answered. */
  addInflight(delta: 1 | -1): void {
    this.inflightSeries.inc(delta);
  }

  attach(source: MetricsSource): void {
    this.source = source;
  }

  labels(): { model: string; version: string } {
    return { model: this.model, version: this.version };
  }
}
