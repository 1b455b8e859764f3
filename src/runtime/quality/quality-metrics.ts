// Model quality in Prometheus, from labelled predictions (feedback). The
// counters let Prometheus compute accuracy and mean absolute error over any
// range (docs/runtime.md, "Model quality"); the gauges hold the same over
// the last --quality-window labelled predictions of this replica, for
// dashboards and alerts that want one number. Labels: model and version, as
// every runtime series, so canary and stable can be compared.

import type { Registry } from 'prom-client';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { QualityTarget } from './target.js';
import { SlidingMean } from './sliding-mean.js';

type Labels = 'model' | 'version';

/** Decades: absolute errors are in the model's own units, whatever their scale. */
const ERROR_BUCKETS = [1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1e3, 1e4];

export const QUALITY_METRICS = {
  recorded: 'tensorfleet_model_predictions_recorded_total',
  dropped: 'tensorfleet_model_predictions_unlabelled_total',
  labelled: 'tensorfleet_model_predictions_labelled_total',
  correct: 'tensorfleet_model_predictions_correct_total',
  absoluteError: 'tensorfleet_model_absolute_error',
  accuracy: 'tensorfleet_model_accuracy',
  meanAbsoluteError: 'tensorfleet_model_mean_absolute_error',
  logEntries: 'tensorfleet_model_prediction_log_entries',
} as const;

/** The windows of one model version. */
interface Windows {
  correct?: SlidingMean;
  absoluteError?: SlidingMean;
}

export class QualityMetrics {
  private readonly model: string;
  private readonly window: number;
  private readonly windows = new Map<string, Windows>();
  /** recorded_total's child per version, bound once: it counts on every recorded request. */
  private readonly recordedSeries = new Map<string, Counter.Internal>();
  private readonly recorded: Counter<Labels>;
  private readonly dropped: Counter<Labels | 'reason'>;
  private readonly labelled: Counter<Labels>;
  private readonly correct: Counter<Labels>;
  private readonly absoluteError: Histogram<Labels>;

  /** `logEntries` reads the prediction log's size at each scrape. */
  constructor(opts: {
    registry: Registry;
    model: string;
    /** The version served (the prediction log's gauge). */
    version: string;
    window: number;
    logEntries: () => number;
  }) {
    const { model, version, window } = opts;
    this.model = model;
    this.window = window;
    const registers = [opts.registry];
    const labelNames = ['model', 'version'] as const;
    this.recorded = new Counter({
      name: QUALITY_METRICS.recorded,
      help: 'Predictions (rows) recorded for feedback.',
      labelNames,
      registers,
    });
    this.dropped = new Counter({
      name: QUALITY_METRICS.dropped,
      help: 'Recorded predictions (rows) dropped before any feedback labelled them: reason expired (TTL) or evicted (the log was full).',
      labelNames: [...labelNames, 'reason'],
      registers,
    });
    this.labelled = new Counter({
      name: QUALITY_METRICS.labelled,
      help: 'Predictions (rows) labelled by feedback.',
      labelNames,
      registers,
    });
    this.correct = new Counter({
      name: QUALITY_METRICS.correct,
      help: 'Labelled classification predictions (rows) whose predicted class was the label.',
      labelNames,
      registers,
    });
    this.absoluteError = new Histogram({
      name: QUALITY_METRICS.absoluteError,
      help: 'Absolute error of each labelled regression prediction (row; the mean over its values when it has several).',
      labelNames,
      buckets: ERROR_BUCKETS,
      registers,
    });
    // collect() runs with `this` bound to the gauge: the windows are read through a closure.
    const each = (read: (w: Windows) => number | undefined) =>
      function (this: Gauge<Labels>): void {
        this.reset();
        for (const [version, w] of windowsOf()) {
          const value = read(w);
          if (value !== undefined) this.set({ model, version }, value);
        }
      };
    const windowsOf = (): Map<string, Windows> => this.windows;
    new Gauge({
      name: QUALITY_METRICS.accuracy,
      help: 'Share of the last --quality-window labelled classification predictions that were correct (absent until one is labelled).',
      labelNames,
      registers,
      collect: each((w) => w.correct?.mean()),
    });
    new Gauge({
      name: QUALITY_METRICS.meanAbsoluteError,
      help: 'Mean absolute error of the last --quality-window labelled regression predictions (absent until one is labelled).',
      labelNames,
      registers,
      collect: each((w) => w.absoluteError?.mean()),
    });
    new Gauge({
      name: QUALITY_METRICS.logEntries,
      help: 'Predictions waiting for feedback in the prediction log.',
      labelNames,
      registers,
      collect() {
        this.set({ model, version }, opts.logEntries());
      },
    });
  }

  /**
   * A version's series at zero, so that rate() sees their first increase:
   * those of every kind, and with the kind (known once the model has loaded)
   * correct_total for classification.
   */
  start(version: string, kind?: QualityTarget['kind']): void {
    const labels = { model: this.model, version };
    this.recorded.inc(labels, 0);
    this.labelled.inc(labels, 0);
    if (kind === 'classification') this.correct.inc(labels, 0);
  }

  countRecorded(version: string, rows: number): void {
    let series = this.recordedSeries.get(version);
    if (series === undefined) {
      series = this.recorded.labels({ model: this.model, version });
      this.recordedSeries.set(version, series);
    }
    series.inc(rows);
  }

  countDropped(version: string, rows: number, reason: 'expired' | 'evicted'): void {
    this.dropped.inc({ model: this.model, version, reason }, rows);
  }

  /** Labelled classification rows: `hits[r]` is whether row r was predicted right. */
  observeClassification(version: string, hits: readonly boolean[]): void {
    const labels = { model: this.model, version };
    const w = this.windowsFor(version);
    const window = (w.correct ??= new SlidingMean(this.window));
    let correct = 0;
    for (const hit of hits) {
      if (hit) correct++;
      window.push(hit ? 1 : 0);
    }
    this.labelled.inc(labels, hits.length);
    this.correct.inc(labels, correct);
  }

  /**
   * Labelled regression rows, each with its absolute error. A row whose
   * prediction was not finite (NaN, infinite) has no error to add: it
   * counts as labelled only, so one such row does not poison the sums.
   */
  observeRegression(version: string, errors: readonly number[]): void {
    const labels = { model: this.model, version };
    const w = this.windowsFor(version);
    const window = (w.absoluteError ??= new SlidingMean(this.window));
    for (const e of errors) {
      if (!Number.isFinite(e)) continue;
      this.absoluteError.observe(labels, e);
      window.push(e);
    }
    this.labelled.inc(labels, errors.length);
  }

  private windowsFor(version: string): Windows {
    let w = this.windows.get(version);
    if (w === undefined) {
      // Each window is allocated when its kind is first labelled.
      w = {};
      this.windows.set(version, w);
    }
    return w;
  }
}
