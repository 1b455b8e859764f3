// The quality metrics' arithmetic: the sliding window's mean against a direct
// computation, and the gauges and counters after any sequence of labelled
// predictions (fast-check): accuracy within [0, 1] and equal to correct over
// labelled in the window, mean absolute error equal to the mean of the last
// errors, counters equal to the totals.

import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { QualityMetrics } from '../../../src/runtime/quality/quality-metrics.js';
import { SlidingMean } from '../../../src/runtime/quality/sliding-mean.js';

async function value(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  for (const m of await registry.getMetricsAsJSON()) {
    for (const v of m.values as {
      metricName?: string;
      labels: Record<string, string | number>;
      value: number;
    }[]) {
      if ((v.metricName ?? m.name) !== name) continue;
      if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) return v.value;
    }
  }
  return undefined;
}

function metrics(window: number, entries = 0): { registry: Registry; quality: QualityMetrics } {
  const registry = new Registry();
  const quality = new QualityMetrics({
    registry,
    model: 'm',
    version: '1',
    window,
    logEntries: () => entries,
  });
  return { registry, quality };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length;

describe('the sliding mean', () => {
  it('is the mean of the last N values pushed (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 300 }),
        (n, values) => {
          const w = new SlidingMean(n);
          for (const v of values) w.push(v);
          const last = values.slice(-n);
          expect(w.size).toBe(last.length);
          const want = mean(last);
          expect(Math.abs((w.mean() as number) - want)).toBeLessThanOrEqual(
            1e-9 * Math.max(1, ...last.map(Math.abs)),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is undefined while empty, and a window holds at least one value', () => {
    expect(new SlidingMean(3).mean()).toBeUndefined();
    expect(() => new SlidingMean(0)).toThrow(RangeError);
  });
});

describe('the quality metrics', () => {
  it('accuracy is within [0, 1] and is correct / labelled over the window; the counters are the totals (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), {
          minLength: 1,
          maxLength: 60,
        }),
        async (window, feedbacks) => {
          const { registry, quality } = metrics(window);
          quality.start('1', 'classification');
          for (const hits of feedbacks) quality.observeClassification('1', hits);
          const all = feedbacks.flat();
          const last = all.slice(-window);
          const accuracy = (await value(registry, 'tensorfleet_model_accuracy')) as number;
          expect(accuracy).toBeGreaterThanOrEqual(0);
          expect(accuracy).toBeLessThanOrEqual(1);
          expect(accuracy).toBe(last.filter(Boolean).length / last.length);
          expect(await value(registry, 'tensorfleet_model_predictions_labelled_total')).toBe(
            all.length,
          );
          expect(await value(registry, 'tensorfleet_model_predictions_correct_total')).toBe(
            all.filter(Boolean).length,
          );
          expect(await value(registry, 'tensorfleet_model_mean_absolute_error')).toBeUndefined();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('mean absolute error is the mean of the last errors of the window; the histogram sums them all (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.array(
          fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 8 }),
          {
            minLength: 1,
            maxLength: 60,
          },
        ),
        async (window, feedbacks) => {
          const { registry, quality } = metrics(window);
          quality.start('1', 'regression');
          for (const errors of feedbacks) quality.observeRegression('1', errors);
          const all = feedbacks.flat();
          const mae = (await value(registry, 'tensorfleet_model_mean_absolute_error')) as number;
          const want = mean(all.slice(-window));
          expect(Math.abs(mae - want)).toBeLessThanOrEqual(1e-9 * Math.max(1, want));
          const sum = (await value(registry, 'tensorfleet_model_absolute_error_sum')) as number;
          expect(Math.abs(sum - all.reduce((a, e) => a + e, 0))).toBeLessThanOrEqual(
            1e-9 * Math.max(1, sum),
          );
          expect(await value(registry, 'tensorfleet_model_absolute_error_count')).toBe(all.length);
          expect(await value(registry, 'tensorfleet_model_accuracy')).toBeUndefined();
          // Regression models have no correct_total series at all.
          expect(
            await value(registry, 'tensorfleet_model_predictions_correct_total'),
          ).toBeUndefined();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a row whose prediction was not finite counts as labelled, and not in the errors', async () => {
    const { registry, quality } = metrics(10);
    quality.observeRegression('1', [1, Number.NaN, 3, Number.POSITIVE_INFINITY]);
    expect(await value(registry, 'tensorfleet_model_predictions_labelled_total')).toBe(4);
    expect(await value(registry, 'tensorfleet_model_absolute_error_count')).toBe(2);
    expect(await value(registry, 'tensorfleet_model_mean_absolute_error')).toBe(2);
  });

  it('starts with zeroed counters, no gauges until something is labelled, and the log size', async () => {
    const { registry, quality } = metrics(10, 7);
    quality.start('1', 'classification');
    expect(await value(registry, 'tensorfleet_model_predictions_labelled_total')).toBe(0);
    expect(await value(registry, 'tensorfleet_model_predictions_correct_total')).toBe(0);
    expect(await value(registry, 'tensorfleet_model_predictions_recorded_total')).toBe(0);
    expect(await value(registry, 'tensorfleet_model_accuracy')).toBeUndefined();
    expect(
      await value(registry, 'tensorfleet_model_prediction_log_entries', {
        model: 'm',
        version: '1',
      }),
    ).toBe(7);
    quality.countRecorded('1', 3);
    quality.countDropped('1', 2, 'expired');
    expect(await value(registry, 'tensorfleet_model_predictions_recorded_total')).toBe(3);
    expect(
      await value(registry, 'tensorfleet_model_predictions_unlabelled_total', {
        reason: 'expired',
      }),
    ).toBe(2);
  });
});
