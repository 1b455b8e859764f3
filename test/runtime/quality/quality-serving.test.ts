// Model quality end to end: a runtime process on loopback serving a small
// classifier (MLP 784-128-10) with quality tracking on. Predictions over TF
// Serving's :predict and the OIP's /infer come back with their request ids;
// feedback on them moves tensorfleet_model_accuracy up, then down, on
// /metrics; bad feedback gets 400/404 with precise messages while serving
// goes on. Then, in process: tracking off, the TTL, and flags the model
// cannot satisfy.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fixtures } from '../helpers.js';
import { binaryBody, makeFixtures, metricValue, startRuntime } from '../helpers.js';
import { testBackend } from '../native.js';
import type { RuntimeProcess } from '../process.js';
import { startProcess, waitReady } from '../process.js';

let fx: Fixtures;
beforeAll(async () => {
  fx = await makeFixtures();
}, 60_000);
afterAll(async () => {
  await fx?.cleanup();
});

const pixels = (seed: number): number[] =>
  Array.from({ length: 784 }, (_, i) => ((i * 7 + seed * 13) % 101) / 101);

const argmax = (row: number[]): number => row.indexOf(Math.max(...row));

describe('model quality over HTTP', () => {
  let rt: RuntimeProcess;
  let base: string;

  beforeAll(async () => {
    rt = await startProcess([
      '--model-name',
      'mlp',
      '--model-uri',
      fx.mlpLayers,
      '--backend',
      testBackend(),
      '--workers',
      '1',
      '--quality-tracking',
      '--quality-window',
      '4',
    ]);
    base = `http://127.0.0.1:${rt.port}`;
    await waitReady(rt.port);
  }, 90_000);
  afterAll(async () => {
    rt?.child.kill('SIGTERM');
    await rt?.exited;
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  async function metric(
    name: string,
    labels = '{model="mlp",version="1"}',
  ): Promise<number | undefined> {
    const text = await (await fetch(`${base}/metrics`)).text();
    const escaped = `${name}${labels}`.replace(/[{}()[\].*+?^$|\\]/g, '\\$&');
    const m = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
    return m === null ? undefined : Number(m[1]);
  }

  /** Three predictions (four rows): their ids and predicted classes. */
  async function predictions(round: number): Promise<{ id: string; classes: number[] }[]> {
    const tfs = await post(
      '/v1/models/mlp:predict',
      { instances: [pixels(round), pixels(round + 1)] },
      { 'x-request-id': `tfs-${round}` },
    );
    expect(tfs.status).toBe(200);
    expect(tfs.headers.get('x-request-id')).toBe(`tfs-${round}`);
    const tfsBody = (await tfs.json()) as { predictions: number[][] };

    const infer = (id: string | undefined) =>
      post('/v2/models/mlp/versions/1/infer', {
        ...(id === undefined ? {} : { id }),
        inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 784], data: pixels(round + 2) }],
      });
    const named = await infer(`oip-${round}`);
    const namedBody = (await named.json()) as { id: string; outputs: { data: number[] }[] };
    expect(namedBody.id).toBe(`oip-${round}`);
    expect(named.headers.get('x-request-id')).toBe(`oip-${round}`);
    // No id anywhere: the runtime makes one and returns it in both places.
    const anonymous = await infer(undefined);
    const anonBody = (await anonymous.json()) as { id: string; outputs: { data: number[] }[] };
    expect(anonBody.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(anonymous.headers.get('x-request-id')).toBe(anonBody.id);
    return [
      { id: `tfs-${round}`, classes: tfsBody.predictions.map(argmax) },
      { id: namedBody.id, classes: [argmax(namedBody.outputs[0]!.data)] },
      { id: anonBody.id, classes: [argmax(anonBody.outputs[0]!.data)] },
    ];
  }

  it('feedback moves tensorfleet_model_accuracy up, then down', async () => {
    expect(await metric('tensorfleet_model_accuracy')).toBeUndefined();
    expect(await metric('tensorfleet_model_predictions_labelled_total')).toBe(0);

    // All four rows right: the TF Serving-style route for one, the OIP-style ones for the others.
    const [tfs, oip, anon] = await predictions(0);
    const right = await post('/v1/models/mlp:feedback', { id: tfs!.id, label: tfs!.classes });
    expect(right.status).toBe(200);
    expect(await right.json()).toEqual({ id: 'tfs-0', labelled: 2, correct: 2 });
    expect(
      (await post('/v2/models/mlp/feedback', { id: oip!.id, label: oip!.classes[0] })).status,
    ).toBe(200);
    expect(
      (await post('/v1/models/mlp/versions/1:feedback', { id: anon!.id, label: anon!.classes }))
        .status,
    ).toBe(200);
    expect(await metric('tensorfleet_model_accuracy')).toBe(1);

    // Then wrong, row by row: the window of 4 fills with misses.
    const wrong = (c: number): number => (c + 1) % 10;
    const later = await predictions(10);
    const first = later[0]!;
    const res = await post('/v2/models/mlp/versions/1/feedback', {
      id: first.id,
      label: first.classes.map(wrong),
    });
    expect(await res.json()).toEqual({ id: first.id, labelled: 2, correct: 0 });
    expect(await metric('tensorfleet_model_accuracy')).toBe(0.5);
    for (const p of later.slice(1))
      expect(
        (await post('/v2/models/mlp/feedback', { id: p.id, label: p.classes.map(wrong) })).status,
      ).toBe(200);
    expect(await metric('tensorfleet_model_accuracy')).toBe(0);

    // Inline feedback (no id): the client sends what it was told and the truth.
    const inline = await post('/v1/models/mlp:feedback', { prediction: [3, 4], label: [3, 4] });
    expect(await inline.json()).toEqual({ labelled: 2, correct: 2 });
    expect(await metric('tensorfleet_model_accuracy')).toBe(0.5);

    // The counters hold everything, for PromQL over any range.
    expect(await metric('tensorfleet_model_predictions_labelled_total')).toBe(10);
    expect(await metric('tensorfleet_model_predictions_correct_total')).toBe(6);
    expect(await metric('tensorfleet_model_predictions_recorded_total')).toBe(8);
    expect(await metric('tensorfleet_model_prediction_log_entries')).toBe(0);
    // Feedback is not inference: the request metrics count only the predictions.
    expect(
      await metric(
        'tensorfleet_runtime_requests_total',
        '{model="mlp",version="1",protocol="tfserving",code="200"}',
      ),
    ).toBe(2);
    expect(
      await metric(
        'tensorfleet_runtime_requests_total',
        '{model="mlp",version="1",protocol="oip",code="200"}',
      ),
    ).toBe(4);
  }, 60_000);

  it('refuses bad feedback with 400/404 and precise messages, and goes on serving', async () => {
    const [p] = await predictions(20);
    const cases: [string, unknown, number, string, string][] = [
      [
        '/v2/models/mlp/feedback',
        '{"id": "x", "label": ',
        400,
        'INVALID_JSON',
        'the feedback body is not valid JSON',
      ],
      ['/v2/models/mlp/feedback', { id: p!.id }, 400, 'INVALID_INPUT', '"label" is missing'],
      [
        '/v2/models/mlp/feedback',
        { id: p!.id, label: [1] },
        400,
        'INVALID_INPUT',
        '"label" has 1 row but the prediction has 2',
      ],
      [
        '/v1/models/mlp:feedback',
        { id: p!.id, label: [1, 10] },
        400,
        'INVALID_INPUT',
        'label[1] is 10, not a class index of output "scores" (an integer from 0 to 9)',
      ],
      [
        '/v1/models/mlp:feedback',
        { id: 'never-seen', label: 1 },
        404,
        'NOT_FOUND',
        'no prediction is recorded under id "never-seen": it may have expired',
      ],
      [
        '/v1/models/other:feedback',
        { id: p!.id, label: [1, 1] },
        404,
        'MODEL_NOT_FOUND',
        'model "other" is not served here',
      ],
      [
        '/v2/models/mlp/versions/9/feedback',
        { id: p!.id, label: [1, 1] },
        404,
        'VERSION_NOT_FOUND',
        'has no version "9"',
      ],
    ];
    for (const [path, body, status, code, message] of cases) {
      const res = await post(path, body);
      expect({
        path,
        body,
        status: res.status,
        code: res.headers.get('tensorfleet-error-code'),
      }).toEqual({
        path,
        body,
        status,
        code,
      });
      expect(((await res.json()) as { error: string }).error).toContain(message);
    }
    expect((await fetch(`${base}/v1/models/mlp:feedback`)).status).toBe(405);
    // The refused bodies left the prediction to be labelled once, properly.
    expect((await post('/v2/models/mlp/feedback', { id: p!.id, label: p!.classes })).status).toBe(
      200,
    );
    const again = await post('/v2/models/mlp/feedback', { id: p!.id, label: p!.classes });
    expect(again.status).toBe(404);
    expect(((await again.json()) as { error: string }).error).toContain('been labelled already');
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
    expect((await post('/v1/models/mlp:predict', { instances: [pixels(1)] })).status).toBe(200);
  }, 60_000);
});

describe('model quality in process', () => {
  it('without tracking, responses carry no request id and feedback is refused (501)', async () => {
    const rt = await startRuntime(fx.mlpLayers, { modelName: 'mlp' });
    try {
      const res = await rt.app.inject({
        method: 'POST',
        url: '/v1/models/mlp:predict',
        payload: { instances: [pixels(0)] },
        headers: { 'x-request-id': 'r1' },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-request-id']).toBeUndefined();
      const fb = await rt.app.inject({
        method: 'POST',
        url: '/v2/models/mlp/feedback',
        payload: { id: 'r1', label: 1 },
      });
      expect(fb.statusCode).toBe(501);
      expect(fb.json()).toEqual({
        error:
          'model quality tracking is off, so no feedback is taken: start the runtime with --quality-tracking (or --quality-output)',
      });
      expect(
        await metricValue(rt.metrics, 'tensorfleet_model_predictions_labelled_total'),
      ).toBeUndefined();
    } finally {
      await rt.close();
    }
  }, 60_000);

  it('binary tensor requests are recorded under the id of their JSON header', async () => {
    const rt = await startRuntime(fx.mlpLayers, { modelName: 'mlp', qualityTracking: true });
    try {
      const data = Buffer.from(new Float32Array(pixels(3)).buffer);
      const { payload, headers } = binaryBody(
        {
          id: 'bin-1',
          inputs: [
            {
              name: 'pixels',
              datatype: 'FP32',
              shape: [1, 784],
              parameters: { binary_data_size: data.length },
            },
          ],
        },
        data,
      );
      const res = await rt.app.inject({
        method: 'POST',
        url: '/v2/models/mlp/infer',
        payload,
        headers,
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-request-id']).toBe('bin-1');
      const scores = res.json<{ id: string; outputs: { data: number[] }[] }>();
      expect(scores.id).toBe('bin-1');
      const fb = await rt.app.inject({
        method: 'POST',
        url: '/v2/models/mlp/feedback',
        payload: { id: 'bin-1', label: argmax(scores.outputs[0]!.data) },
      });
      expect(fb.json()).toEqual({ id: 'bin-1', labelled: 1, correct: 1 });
      expect(await metricValue(rt.metrics, 'tensorfleet_model_accuracy')).toBe(1);
    } finally {
      await rt.close();
    }
  }, 60_000);

  it('a prediction not labelled within the TTL expires: 404, counted as unlabelled', async () => {
    const rt = await startRuntime(fx.mlpLayers, {
      modelName: 'mlp',
      qualityTracking: true,
      qualityLogTtlSeconds: 0.05,
    });
    try {
      const res = await rt.app.inject({
        method: 'POST',
        url: '/v1/models/mlp:predict',
        payload: { instances: [pixels(0)] },
        headers: { 'x-request-id': 'late' },
      });
      expect(res.headers['x-request-id']).toBe('late');
      await new Promise((r) => setTimeout(r, 100));
      const fb = await rt.app.inject({
        method: 'POST',
        url: '/v1/models/mlp:feedback',
        payload: { id: 'late', label: 1 },
      });
      expect(fb.statusCode).toBe(404);
      expect(fb.json<{ error: string }>().error).toContain(
        'it may have expired (predictions wait 0.05 s',
      );
      expect(
        await metricValue(rt.metrics, 'tensorfleet_model_predictions_unlabelled_total', {
          reason: 'expired',
        }),
      ).toBe(1);
    } finally {
      await rt.close();
    }
  }, 60_000);

  it('regression: feedback moves tensorfleet_model_mean_absolute_error', async () => {
    const rt = await startRuntime(fx.halfPlusTwo, { modelName: 'hpt', qualityKind: 'regression' });
    try {
      const res = await rt.app.inject({
        method: 'POST',
        url: '/v1/models/hpt:predict',
        payload: { instances: [1, 2, 5] },
      });
      expect(res.json()).toEqual({ predictions: [2.5, 3, 4.5] });
      const id = res.headers['x-request-id'] as string;
      const fb = await rt.app.inject({
        method: 'POST',
        url: '/v1/models/hpt:feedback',
        payload: { id, label: [2.5, 4, 2.5] },
      });
      expect(fb.json()).toEqual({ id, labelled: 3, mean_absolute_error: 1 });
      expect(await metricValue(rt.metrics, 'tensorfleet_model_mean_absolute_error')).toBe(1);
      expect(await metricValue(rt.metrics, 'tensorfleet_model_absolute_error_sum')).toBe(3);
    } finally {
      await rt.close();
    }
  }, 60_000);

  it('a --quality-output the model lacks fails its load with CONFIG_INVALID', async () => {
    await expect(
      startRuntime(fx.mlpLayers, { modelName: 'mlp', qualityOutput: 'logits' }),
    ).rejects.toThrow(
      '--quality-output "logits" is not an output of the model; its outputs are "scores"',
    );
  }, 60_000);
});
