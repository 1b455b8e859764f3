// Several versions of one model in one registry: each its own series of
// every metric; an unloaded version's point-in-time series go, its counters stay.

import { describe, expect, it } from 'vitest';
import { RuntimeMetrics } from '../../src/runtime/metrics.js';

const source = (depth: number) => ({
  queueDepth: () => depth,
  inflightBatches: () => 0,
  modelMemory: () => [],
  ready: () => true,
});

describe('RuntimeMetrics across versions', () => {
  it('gives each version its series in one registry, and drops the gauges of a released version', async () => {
    const model = new RuntimeMetrics('m', '', { processMetrics: false });
    const v1 = model.forVersion('1');
    const v2 = model.forVersion('2');
    v1.attach(source(3));
    v2.attach(source(5));
    v1.observeRequest('tfserving', 200, 0.01);
    v2.observeRequest('tfserving', 200, 0.01);
    v2.observeRequest('tfserving', 200, 0.01);
    model.observeRequest('tfserving', 503, 0.001);
    v2.setBackendInfo({
      backend: 'wasm',
      tfjs_backend: 'wasm',
      device: 'cpu',
      format: 'tfjs-graph',
    });
    let text = await model.registry.metrics();
    expect(text).toContain('tensorfleet_runtime_queue_depth{model="m",version="1"} 3');
    expect(text).toContain('tensorfleet_runtime_queue_depth{model="m",version="2"} 5');
    expect(text).toContain(
      'tensorfleet_runtime_requests_total{model="m",version="2",protocol="tfserving",code="200"} 2',
    );
    // The model's own series: a request no version answered.
    expect(text).toContain(
      'tensorfleet_runtime_requests_total{model="m",version="",protocol="tfserving",code="503"} 1',
    );
    expect(text).not.toMatch(/queue_depth\{model="m",version=""\}/);
    v2.release();
    text = await model.registry.metrics();
    expect(text).not.toMatch(
      /tensorfleet_runtime_(queue_depth|ready|inflight_requests|backend_info)\{[^}]*version="2"/,
    );
    expect(text).toContain('tensorfleet_runtime_queue_depth{model="m",version="1"} 3');
    expect(text).toContain(
      'tensorfleet_runtime_requests_total{model="m",version="2",protocol="tfserving",code="200"} 2',
    );
  });

  it('exports one state series per version, rebuilt at each scrape from what the server reports', async () => {
    const model = new RuntimeMetrics('m', '', { processMetrics: false });
    let states = [
      { model: 'm', version: '2', state: 'LOADING', errorCode: 'OK' },
      { model: 'm', version: '1', state: 'AVAILABLE', errorCode: 'OK' },
    ];
    const series = async () =>
      (await model.registry.metrics())
        .split('\n')
        .filter((l) => l.startsWith('tensorfleet_runtime_model_version_state{'));
    // Before the server reports any: no series.
    expect(await series()).toEqual([]);
    model.reportVersionStates(() => states);
    expect(await series()).toEqual([
      'tensorfleet_runtime_model_version_state{model="m",version="2",state="LOADING",error_code="OK"} 1',
      'tensorfleet_runtime_model_version_state{model="m",version="1",state="AVAILABLE",error_code="OK"} 1',
    ]);
    states = [{ model: 'm', version: '2', state: 'END', errorCode: 'UNKNOWN' }];
    expect(await series()).toEqual([
      'tensorfleet_runtime_model_version_state{model="m",version="2",state="END",error_code="UNKNOWN"} 1',
    ]);
  });
});
