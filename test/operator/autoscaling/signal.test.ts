import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { SignalReader } from '../../../src/operator/autoscaling/signal.js';
import { modelDeployment } from '../fixtures.js';

const TEXT = [
  '# HELP tensorfleet_runtime_inflight_requests In-flight requests',
  '# TYPE tensorfleet_runtime_inflight_requests gauge',
  'tensorfleet_runtime_inflight_requests{model="m",version="1"} 3',
  'tensorfleet_runtime_inflight_requests_other 100',
  'tensorfleet_runtime_requests_total{model="m",code="200"} 90',
  'tensorfleet_runtime_requests_total{model="m",code="500"} 10',
].join('\n');

const pod = (name: string, ip: string): V1Pod => ({
  metadata: { name, uid: name },
  status: { podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] },
});

describe('SignalReader', () => {
  const md = (type: string) =>
    modelDeployment({
      autoscaling: { engine: 'builtin', maxReplicas: 4, metric: { type, target: 5 } },
    });

  it('scrapes ready pods and sums a gauge', async () => {
    const urls: string[] = [];
    const reader = new SignalReader('', (url) => {
      urls.push(url);
      return Promise.resolve(TEXT);
    });
    expect(
      await reader.read(md('concurrency'), [pod('a', '10.0.0.1'), pod('b', '10.0.0.2')]),
    ).toEqual({ total: 6 });
    expect(urls.sort()).toEqual(['http://10.0.0.1:8501/metrics', 'http://10.0.0.2:8501/metrics']);
  });

  it('turns counters into a rate from two scrapes', async () => {
    let t = 0;
    let count = 100;
    const reader = new SignalReader(
      '',
      () => Promise.resolve(`tensorfleet_runtime_requests_total{code="200"} ${count}`),
      () => t,
    );
    expect((await reader.read(md('rps'), [pod('a', '10.0.0.1')])).error).toMatch(/second/);
    t = 10_000;
    count = 600;
    expect(await reader.read(md('rps'), [pod('a', '10.0.0.1')])).toEqual({ total: 50 });
  });

  it('asks Prometheus when configured', async () => {
    let asked = '';
    const reader = new SignalReader('http://prom:9090/', (url) => {
      asked = url;
      return Promise.resolve(
        JSON.stringify({
          status: 'success',
          data: { resultType: 'vector', result: [{ value: [0, '42'] }] },
        }),
      );
    });
    expect(await reader.read(md('queueDepth'), [])).toEqual({ total: 42 });
    expect(decodeURIComponent(asked)).toContain(
      'sum(tensorfleet_runtime_queue_depth{namespace="ml",model="mnist"})',
    );
  });

  it('never scrapes simulated pods', async () => {
    let called = false;
    const reader = new SignalReader(
      '',
      () => {
        called = true;
        return Promise.resolve(TEXT);
      },
      Date.now,
      false,
    );
    expect((await reader.read(md('concurrency'), [pod('a', '10.244.0.5')])).error).toMatch(
      /simulated/,
    );
    expect(called).toBe(false);
  });

  it('explains why there is no signal', async () => {
    const failing = new SignalReader('', () => Promise.reject(new Error('ECONNREFUSED')));
    expect((await failing.read(md('concurrency'), [pod('a', '10.0.0.1')])).error).toMatch(
      /could not scrape/,
    );
    expect((await failing.read(md('concurrency'), [])).error).toMatch(/no ready pods/);
    expect((await failing.read(md('gpuUtilization'), [pod('a', '1.1.1.1')])).error).toMatch(
      /prometheus-url/,
    );
  });
});
