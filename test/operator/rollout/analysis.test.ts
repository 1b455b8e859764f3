import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  PodScrapeAnalysis,
  PrometheusAnalysis,
  histogramQuantile,
  judgeAnalysis,
} from '../../../src/operator/rollout/analysis.js';
import { modelDeployment } from '../fixtures.js';

const md = modelDeployment({
  rollout: {
    strategy: 'Canary',
    canary: {
      steps: [{ weight: 50 }],
      analysis: { maxErrorRate: 0.05, maxLatencyP99Ms: 100, minRequests: 20 },
    },
  },
});
const NOW = '2026-11-28T10:00:00Z';

describe('histogramQuantile', () => {
  it('interpolates inside the bucket holding the rank, like Prometheus', () => {
    const buckets = [
      { le: 0.1, count: 50 },
      { le: 0.2, count: 90 },
      { le: 0.4, count: 100 },
      { le: Infinity, count: 100 },
    ];
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.1);
    expect(histogramQuantile(0.7, buckets)).toBeCloseTo(0.15);
    expect(histogramQuantile(0.99, buckets)).toBeCloseTo(0.38);
  });

  it('answers the highest finite bound for ranks in +Inf, and nothing without data', () => {
    expect(
      histogramQuantile(0.99, [
        { le: 1, count: 1 },
        { le: Infinity, count: 10 },
      ]),
    ).toBe(1);
    expect(histogramQuantile(0.99, [{ le: Infinity, count: 0 }])).toBeUndefined();
    expect(histogramQuantile(0.99, [])).toBeUndefined();
  });
});

describe('judgeAnalysis', () => {
  it('passes within the thresholds and reports both tracks', () => {
    const r = judgeAnalysis(
      md,
      {
        canary: { requests: 200, errors: 2, p99Ms: 40 },
        stable: { requests: 600, errors: 0, p99Ms: 30 },
      },
      NOW,
    );
    expect(r).toMatchObject({
      passed: 'True',
      canaryRequests: 200,
      canaryErrorRate: 0.01,
      canaryLatencyP99Ms: 40,
      stableErrorRate: 0,
      stableLatencyP99Ms: 30,
    });
    expect(r.message).toContain('error rate 0.01 <= 0.05');
  });

  it('fails on the error rate and on p99 latency, saying which', () => {
    const errors = judgeAnalysis(md, { canary: { requests: 100, errors: 50, p99Ms: 10 } }, NOW);
    expect(errors.passed).toBe('False');
    expect(errors.message).toBe('error rate 0.5 > 0.05 (50 of 100 requests failed)');
    const slow = judgeAnalysis(md, { canary: { requests: 100, errors: 0, p99Ms: 250 } }, NOW);
    expect(slow.passed).toBe('False');
    expect(slow.message).toBe('p99 latency 250 ms > 100 ms');
  });

  it('waits (Unknown) below minRequests or when the figures cannot be read', () => {
    const few = judgeAnalysis(md, { canary: { requests: 5, errors: 5 } }, NOW);
    expect(few.passed).toBe('Unknown');
    expect(few.message).toContain('5 of the 20 requests');
    const down = judgeAnalysis(md, { error: 'Prometheus query failed: ECONNREFUSED' }, NOW);
    expect(down.passed).toBe('Unknown');
    expect(down.message).toContain('ECONNREFUSED');
  });
});

describe('PrometheusAnalysis', () => {
  it('queries each version over the step window and reads the answers', async () => {
    const queries: string[] = [];
    const reader = new PrometheusAnalysis('http://prom:9090/', (url) => {
      const q = new URL(url).searchParams.get('query')!;
      queries.push(q);
      const value = q.startsWith('histogram_quantile')
        ? '0.05'
        : q.includes('code=~"5.."')
          ? q.includes('version="2"')
            ? '3'
            : '0'
          : '100';
      return Promise.resolve(
        JSON.stringify({
          status: 'success',
          data: { resultType: 'vector', result: [{ value: [0, value] }] },
        }),
      );
    });
    const figures = await reader.read({
      md,
      canaryVersion: '2',
      stableVersion: '1',
      since: new Date('2026-11-28T10:00:00Z'),
      now: new Date('2026-11-28T10:01:30Z'),
      pods: [],
    });
    expect(figures).toEqual({
      canary: { requests: 100, errors: 3, p99Ms: 50 },
      stable: { requests: 100, errors: 0, p99Ms: 50 },
    });
    expect(queries).toContain(
      'sum(increase(tensorfleet_runtime_requests_total{namespace="ml",model="mnist",version="2",code=~"5.."}[90s]))',
    );
  });

  it('reports an unreachable Prometheus as an error, not as zero traffic', async () => {
    const reader = new PrometheusAnalysis('http://prom:9090', () =>
      Promise.reject(new Error('connect ECONNREFUSED')),
    );
    const r = await reader.read({
      md,
      canaryVersion: '2',
      stableVersion: '1',
      since: new Date(0),
      now: new Date(1000),
      pods: [],
    });
    expect(r).toEqual({ error: 'Prometheus query failed: connect ECONNREFUSED' });
  });
});

describe('PodScrapeAnalysis', () => {
  const pod = (name: string, track: string, ip: string): V1Pod => ({
    metadata: { name, labels: { 'tensorfleet.dev/track': track } },
    status: { podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const text = (version: string, ok: number, failed: number) =>
    [
      `tensorfleet_runtime_requests_total{model="mnist",version="${version}",protocol="tfserving",code="200"} ${ok}`,
      `tensorfleet_runtime_requests_total{model="mnist",version="${version}",protocol="tfserving",code="500"} ${failed}`,
      `tensorfleet_runtime_requests_total{model="mnist",version="${version}",protocol="tfserving",code="400"} 7`,
      `tensorfleet_runtime_request_duration_seconds_bucket{model="mnist",version="${version}",protocol="tfserving",le="0.01"} ${ok}`,
      `tensorfleet_runtime_request_duration_seconds_bucket{model="mnist",version="${version}",protocol="tfserving",le="+Inf"} ${ok + failed + 7}`,
    ].join('\n');

  it('sums the ready pods of each track; 4xx are not failures', async () => {
    const reader = new PodScrapeAnalysis((url) =>
      Promise.resolve(url.includes('10.0.0.9') ? text('2', 10, 5) : text('1', 100, 0)),
    );
    const r = await reader.read({
      md,
      canaryVersion: '2',
      stableVersion: '1',
      since: new Date(0),
      now: new Date(1000),
      pods: [
        pod('a', 'stable', '10.0.0.1'),
        pod('b', 'stable', '10.0.0.2'),
        pod('c', 'canary', '10.0.0.9'),
      ],
    });
    expect(r).toMatchObject({
      canary: { requests: 22, errors: 5 },
      stable: { requests: 214, errors: 0 },
    });
  });

  it("counts a step from the previous analysis's scrape, and all of a restarted pod", async () => {
    let canaryOk = 10;
    let canaryFailed = 0;
    const reader = new PodScrapeAnalysis((url) =>
      Promise.resolve(
        url.includes('10.0.0.9') ? text('2', canaryOk, canaryFailed) : text('1', 100, 0),
      ),
    );
    const pods = [pod('a', 'stable', '10.0.0.1'), pod('c', 'canary', '10.0.0.9')];
    const at = (since: number, now: number) =>
      reader.read({
        md,
        canaryVersion: '2',
        stableVersion: '1',
        since: new Date(since),
        now: new Date(now),
        pods,
      });
    expect(await at(0, 1000)).toMatchObject({ canary: { requests: 17, errors: 0 } });
    // The next step starts after that read: only what came since counts.
    canaryOk = 40;
    canaryFailed = 6;
    expect(await at(1500, 5000)).toMatchObject({
      canary: { requests: 36, errors: 6 },
      stable: { requests: 0, errors: 0 },
    });
    // A read inside the same window does not move its start.
    canaryOk = 50;
    expect(await at(1500, 6000)).toMatchObject({ canary: { requests: 46, errors: 6 } });
    // Counters below the snapshot: the runtime restarted, everything is new.
    canaryOk = 3;
    canaryFailed = 1;
    expect(await at(7000, 8000)).toMatchObject({ canary: { requests: 11, errors: 1 } });
  });
});

describe('canary analysis with an accuracy gate', () => {
  const gated = modelDeployment({
    monitoring: { quality: { kind: 'classification' } },
    rollout: {
      strategy: 'Canary',
      canary: {
        steps: [{ weight: 50 }],
        analysis: { maxErrorRate: 0.05, minRequests: 20, maxAccuracyDrop: 0.02, minLabelled: 50 },
      },
    },
  });
  const healthy = { requests: 200, errors: 0 };

  it('rolls back on an accuracy drop, with both accuracies in the verdict and status', () => {
    const r = judgeAnalysis(
      gated,
      {
        canary: { ...healthy, labelled: 100, correct: 80 },
        stable: { ...healthy, labelled: 300, correct: 270 },
      },
      NOW,
    );
    expect(r).toMatchObject({
      passed: 'False',
      canaryAccuracy: 0.8,
      stableAccuracy: 0.9,
      canaryLabelled: 100,
      stableLabelled: 300,
    });
    expect(r.message).toBe(
      'accuracy 0.8 against stable 0.9 over 100 and 300 labelled predictions: a drop of 0.1 > 0.02',
    );
  });

  it('passes with both figures in the message', () => {
    const r = judgeAnalysis(
      gated,
      {
        canary: { ...healthy, labelled: 100, correct: 91 },
        stable: { ...healthy, labelled: 100, correct: 90 },
      },
      NOW,
    );
    expect(r.passed).toBe('True');
    expect(r.message).toBe(
      'error rate 0 <= 0.05 over 200 requests; accuracy 0.91 against stable 0.9 over 100 and 100 labelled predictions (drop <= 0.02)',
    );
  });

  it('waits for feedback below minLabelled, but an error-rate breach rolls back at once', () => {
    const waiting = judgeAnalysis(
      gated,
      { canary: { ...healthy, labelled: 10, correct: 0 }, stable: { ...healthy, labelled: 500 } },
      NOW,
    );
    expect(waiting.passed).toBe('Unknown');
    expect(waiting.message).toContain('10 canary and 500 stable predictions labelled of the 50');
    const failing = judgeAnalysis(
      gated,
      { canary: { requests: 200, errors: 100, labelled: 0 }, stable: healthy },
      NOW,
    );
    expect(failing.passed).toBe('False');
    expect(failing.message).toContain('error rate 0.5 > 0.05');
  });

  it('Prometheus: queries the feedback counters over the step, only when the analysis gates on them', async () => {
    const queries: string[] = [];
    const answer = (q: string) =>
      q.includes('correct_total') ? (q.includes('version="2"') ? '70' : '90') : '100';
    const reader = new PrometheusAnalysis('http://prom:9090', (url) => {
      const q = new URL(url).searchParams.get('query')!;
      queries.push(q);
      const empty = q.includes('absolute_error') || q.startsWith('histogram_quantile');
      return Promise.resolve(
        JSON.stringify({
          status: 'success',
          data: { resultType: 'vector', result: empty ? [] : [{ value: [0, answer(q)] }] },
        }),
      );
    });
    const req = {
      canaryVersion: '2',
      stableVersion: '1',
      since: new Date('2026-11-28T10:00:00Z'),
      now: new Date('2026-11-28T10:02:00Z'),
      pods: [],
    };
    const figures = await reader.read({ md: gated, ...req });
    expect(figures).toEqual({
      canary: { requests: 100, errors: 100, labelled: 100, correct: 70 },
      stable: { requests: 100, errors: 100, labelled: 100, correct: 90 },
    });
    expect(queries).toContain(
      'sum(increase(tensorfleet_model_predictions_correct_total{namespace="ml",model="mnist",version="2"}[120s]))',
    );
    queries.length = 0;
    await reader.read({ md, ...req });
    expect(queries.filter((q) => q.includes('tensorfleet_model_'))).toEqual([]);
  });

  it('pod scrape: windows the feedback counters of each track like the request counters', async () => {
    let canaryCorrect = 40;
    let canaryLabelled = 50;
    const text = (version: string, labelled: number, correct: number) =>
      [
        `tensorfleet_runtime_requests_total{model="mnist",version="${version}",protocol="tfserving",code="200"} 500`,
        `tensorfleet_model_predictions_labelled_total{model="mnist",version="${version}"} ${labelled}`,
        `tensorfleet_model_predictions_correct_total{model="mnist",version="${version}"} ${correct}`,
        `tensorfleet_model_predictions_recorded_total{model="mnist",version="${version}"} 999`,
      ].join('\n');
    const reader = new PodScrapeAnalysis((url) =>
      Promise.resolve(
        url.includes('10.0.0.9') ? text('2', canaryLabelled, canaryCorrect) : text('1', 400, 360),
      ),
    );
    const pods: V1Pod[] = [
      {
        metadata: { name: 'a', labels: { 'tensorfleet.dev/track': 'stable' } },
        status: { podIP: '10.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
      },
      {
        metadata: { name: 'c', labels: { 'tensorfleet.dev/track': 'canary' } },
        status: { podIP: '10.0.0.9', conditions: [{ type: 'Ready', status: 'True' }] },
      },
    ];
    const at = (since: number, now: number) =>
      reader.read({
        md: gated,
        canaryVersion: '2',
        stableVersion: '1',
        since: new Date(since),
        now: new Date(now),
        pods,
      });
    expect(await at(0, 1000)).toMatchObject({
      canary: { labelled: 50, correct: 40 },
      stable: { labelled: 400, correct: 360 },
    });
    canaryLabelled = 150;
    canaryCorrect = 100;
    expect(await at(1500, 5000)).toMatchObject({
      canary: { labelled: 100, correct: 60 },
      stable: { labelled: 0, correct: 0 },
    });
  });
});
