import { describe, expect, it } from 'vitest';
import { parseExposition, sumSamples } from '../../../src/operator/metrics-source/exposition.js';

const TEXT = [
  '# HELP tensorfleet_runtime_inflight_requests In-flight requests',
  '# TYPE tensorfleet_runtime_inflight_requests gauge',
  'tensorfleet_runtime_inflight_requests{model="m",version="1"} 3',
  'tensorfleet_runtime_inflight_requests_other 100',
  'tensorfleet_runtime_requests_total{model="m",version="1",code="200"} 90',
  'tensorfleet_runtime_requests_total{model="m",version="2",code="500"} 10',
  'tensorfleet_runtime_requests_total{model="m",version="2",code="503"} 1e1',
  'odd{path="a \\"quoted\\" ,} value"} 1',
  'tensorfleet_runtime_request_duration_seconds_bucket{le="+Inf",version="1"} NaN',
].join('\n');

describe('parseExposition', () => {
  it('reads names, labels (with escapes and commas inside values) and values', () => {
    const samples = parseExposition(TEXT);
    expect(samples).toHaveLength(7);
    expect(samples[0]).toEqual({
      name: 'tensorfleet_runtime_inflight_requests',
      labels: { model: 'm', version: '1' },
      value: 3,
    });
    expect(samples[1]).toEqual({
      name: 'tensorfleet_runtime_inflight_requests_other',
      labels: {},
      value: 100,
    });
    expect(samples[5]!.labels).toEqual({ path: 'a "quoted" ,} value' });
  });
});

describe('sumSamples', () => {
  const samples = parseExposition(TEXT);
  it('sums one metric across label sets and ignores longer names', () => {
    expect(sumSamples(samples, 'tensorfleet_runtime_inflight_requests')).toBe(3);
    expect(sumSamples(samples, 'tensorfleet_runtime_requests_total')).toBe(110);
    expect(sumSamples(samples, 'missing')).toBeUndefined();
  });

  it('filters on exact labels and on patterns, and skips NaN', () => {
    const total = 'tensorfleet_runtime_requests_total';
    expect(sumSamples(samples, total, { version: '2' })).toBe(20);
    expect(sumSamples(samples, total, { version: '2', code: /^5\d\d$/ })).toBe(20);
    expect(sumSamples(samples, total, { version: '1', code: /^5\d\d$/ })).toBeUndefined();
    expect(
      sumSamples(samples, 'tensorfleet_runtime_request_duration_seconds_bucket'),
    ).toBeUndefined();
  });
});
