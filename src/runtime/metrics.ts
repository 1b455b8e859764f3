// Prometheus metrics on a private registry (never the global one). Names use
// base units (_seconds, _bytes) and _total for counters; every series carries
// the model name and version so canary and stable pods can be told apart.
// Point-in-time values (queue depth, tfjs memory) are read in collect().
// Several versions of one model share one registry: forVersion() gives each
// version its own bound series over the same metric families.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LATENCY_BUCKETS, RUNTIME_METRICS } from '../contract/runtime.js';
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

const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/** The per-request series of one protocol and status code, label values resolved once. */
interface RequestSeries {
  count: Counter.Internal;
  duration: Histogram.Internal<'model' | 'version' | 'protocol'>;
}

/** Where a batch ran (the `thread` label of tensorfleet_runtime_batches_total). */
export type ComputeThread = 'worker' | 'http';

/** One model version's point-in-time values, once its service is attached. */
interface HeldVersion {
  readonly labels: { model: string; version: string };
  source: MetricsSource | undefined;
}

/** One version's state, as /v1/models/<m> lists it (model-versions.ts). */
export interface VersionStateSample {
  readonly model: string;
  readonly version: string;
  readonly state: string;
  readonly errorCode: string;
}

/** What every RuntimeMetrics of one process shares: each version held, by model and version. */
interface SharedSources {
  readonly held: Map<string, HeldVersion>;
  /** Every model's versions and their states, read at scrape time (set by the server). */
  versionStates?: () => Iterable<VersionStateSample>;
}

export class RuntimeMetrics {
  readonly registry: Registry;
  readonly model: string;
  readonly version: string;
  private readonly shared: SharedSources;
  /** The backend info series set for this version (removed with it). */
  private backendLabels: Record<string, string> | undefined;

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
  /** Gauges read at scrape time, one series per version held (from each version's source). */
  private pointInTime: Gauge<'model' | 'version'>[] = [];

  constructor(
    model: string,
    version: string,
    options: { processMetrics?: boolean } = {},
    /** forVersion's: the families of another version of the same model, to share. */
    sibling?: RuntimeMetrics,
  ) {
    this.model = model;
    this.version = version;
    const labels = { model, version };
    if (sibling !== undefined) {
      this.registry = sibling.registry;
      this.shared = sibling.shared;
      this.requests = sibling.requests;
      this.requestDuration = sibling.requestDuration;
      this.queueDuration = sibling.queueDuration;
      this.computeDuration = sibling.computeDuration;
      this.batchSize = sibling.batchSize;
      this.batches = sibling.batches;
      this.inflight = sibling.inflight;
      this.modelLoad = sibling.modelLoad;
      this.backendInfo = sibling.backendInfo;
      this.pointInTime = sibling.pointInTime;
    } else {
      this.registry = new Registry();
      this.shared = { held: new Map() };
      const registers = [this.registry];
      this.requests = new Counter({
        name: RUNTIME_METRICS.requests,
        help: 'Inference requests answered, by protocol and HTTP status code.',
        labelNames: ['model', 'version', 'protocol', 'code'],
        registers,
      });
      this.requestDuration = new Histogram({
        name: RUNTIME_METRICS.requestDuration,
        help: 'Time from receiving an inference request to sending its response.',
        labelNames: ['model', 'version', 'protocol'],
        buckets: [...LATENCY_BUCKETS],
        registers,
      });
      this.queueDuration = new Histogram({
        name: 'tensorfleet_runtime_queue_duration_seconds',
        help: 'Time a request waited in the batching queue before its batch started.',
        labelNames: ['model', 'version'],
        buckets: [...LATENCY_BUCKETS],
        registers,
      });
      this.computeDuration = new Histogram({
        name: 'tensorfleet_runtime_compute_duration_seconds',
        help: 'Model execution time per batch, measured in the worker.',
        labelNames: ['model', 'version'],
        buckets: [...LATENCY_BUCKETS],
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
      this.pointInTimeGauges(registers);
      const shared = this.shared;
      new Gauge({
        name: RUNTIME_METRICS.modelVersionState,
        help: "1 for the state each model version is in, as /v1/models/<model> lists it (TF Serving's model_version_status): LOADING, AVAILABLE, UNLOADING, END; error_code UNKNOWN for a load that failed.",
        labelNames: ['model', 'version', 'state', 'error_code'],
        registers,
        collect() {
          // Rebuilt at each scrape: a version that changed state leaves its old series.
          this.reset();
          for (const s of shared.versionStates?.() ?? []) {
            this.set(
              { model: s.model, version: s.version, state: s.state, error_code: s.errorCode },
              1,
            );
          }
        },
      });
      if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    }
    // Version "": the model's own series, for requests no version answered
    // (none loaded yet); it holds no model, so it has no point-in-time series.
    if (version !== '') {
      this.shared.held.set(this.key, { labels, source: undefined });
      for (const protocol of ['tfserving', 'oip', 'grpc'] as const) {
        this.requests.inc({ ...labels, protocol, code: '200' }, 0);
      }
      this.inflight.set(labels, 0);
    }
    this.queueSeries = this.queueDuration.labels(labels);
    this.computeSeries = this.computeDuration.labels(labels);
    this.batchSeries = this.batchSize.labels(labels);
    this.batchesByThread = {
      worker: this.batches.labels({ ...labels, thread: 'worker' }),
      http: this.batches.labels({ ...labels, thread: 'http' }),
    };
    this.inflightSeries = this.inflight.labels(labels);
  }

  /** Where the version state gauge reads every model's versions from, at each scrape. */
  reportVersionStates(read: () => Iterable<VersionStateSample>): void {
    this.shared.versionStates = read;
  }

  /** Another version of the same model, in the same registry (model-versions.ts). */
  forVersion(version: string): RuntimeMetrics {
    return new RuntimeMetrics(this.model, version, {}, this);
  }

  /** Another model's own series (version ""), in the same registry (several models in one process). */
  forModel(model: string): RuntimeMetrics {
    return new RuntimeMetrics(model, '', {}, this);
  }

  /** This version's key among those held. */
  private get key(): string {
    return `${this.model}\u0000${this.version}`;
  }

  /**
   * The version was unloaded: its point-in-time series go (a gauge of a model
   * no longer held would lie); its counters and histograms stay, as counters do.
   */
  release(): void {
    const labels = this.labels();
    this.shared.held.delete(this.key);
    this.inflight.remove(labels);
    this.modelLoad.remove(labels);
    if (this.backendLabels !== undefined) this.backendInfo.remove(this.backendLabels);
    for (const gauge of this.pointInTime) gauge.remove(labels);
  }

  private pointInTimeGauges(registers: Registry[]): void {
    const held = this.shared.held;
    // collect() runs with `this` bound to the gauge, so each value is read through a closure.
    const gauge = (
      name: string,
      help: string,
      value: (source: MetricsSource) => number,
    ): Gauge<'model' | 'version'> =>
      new Gauge({
        name,
        help,
        labelNames: ['model', 'version'],
        registers,
        collect() {
          for (const { labels, source } of held.values())
            this.set(labels, source === undefined ? 0 : value(source));
        },
      });
    const memory = (source: MetricsSource): { numBytes: number; numTensors: number }[] =>
      source.modelMemory();
    this.pointInTime = [
      gauge(RUNTIME_METRICS.queueDepth, 'Requests waiting in the batching queue.', (s) =>
        s.queueDepth(),
      ),
      gauge('tensorfleet_runtime_inflight_batches', 'Batches executing in workers.', (s) =>
        s.inflightBatches(),
      ),
      gauge(
        'tensorfleet_runtime_ready',
        '1 when the model is loaded, warmed up and not draining.',
        (s) => (s.ready() ? 1 : 0),
      ),
      gauge(
        'tensorfleet_runtime_tfjs_memory_bytes',
        'Bytes held by tfjs tensors, summed over the threads holding the model (workers as of their last inference).',
        (s) => memory(s).reduce((a, m) => a + m.numBytes, 0),
      ),
      gauge(
        'tensorfleet_runtime_tfjs_tensors',
        'Live tfjs tensors, summed over the threads holding the model (workers as of their last inference).',
        (s) => memory(s).reduce((a, m) => a + m.numTensors, 0),
      ),
    ];
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
    const held = this.shared.held.get(this.key);
    if (held !== undefined) held.source = source;
  }

  /** Sets the backend info series of this version (removed by release()). */
  setBackendInfo(info: {
    backend: string;
    tfjs_backend: string;
    device: string;
    format: string;
  }): void {
    this.backendLabels = { ...this.labels(), ...info };
    this.backendInfo.set(this.backendLabels, 1);
  }

  labels(): { model: string; version: string } {
    return { model: this.model, version: this.version };
  }
}
