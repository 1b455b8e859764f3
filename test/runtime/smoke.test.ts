import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fixtures, TestRuntime } from './helpers.js';
import { makeFixtures, startRuntime } from './helpers.js';

let fx: Fixtures;
let rt: TestRuntime;
beforeAll(async () => {
  fx = await makeFixtures();
  rt = await startRuntime(fx.halfPlusTwo, { modelName: 'half_plus_two' });
}, 60_000);
afterAll(async () => {
  await rt?.close();
  await fx?.cleanup();
});

describe('smoke', () => {
  it('half_plus_two', async () => {
    const res = await rt.app.inject({
      method: 'POST',
      url: '/v1/models/half_plus_two:predict',
      payload: { instances: [1.0, 2.0, 5.0] },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ predictions: [2.5, 3.0, 4.5] });
  });
});
