import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { writeHalfPlusTwo, writeIndexLookup } from '../../src/runtime/models/graph-models.js';
import { startRuntime, type TestRuntime } from './helpers.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-graph-models-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function predict(runtime: TestRuntime, instances: number[]) {
  const response = await runtime.app.inject({
    method: 'POST',
    url: '/v1/models/m:predict',
    payload: { instances },
  });
  return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
}

describe('generated graph models serve what they promise', () => {
  it('half_plus_two takes the constant it is given', async () => {
    const runtime = await startRuntime(await writeHalfPlusTwo(join(dir, 'hp3'), 3));
    try {
      expect(await predict(runtime, [1, -4])).toEqual({
        status: 200,
        body: { predictions: [3.5, 1] },
      });
    } finally {
      await runtime.close();
    }
  });

  it('index lookup loads and warms up, answers x inside its table and fails outside it', async () => {
    const runtime = await startRuntime(await writeIndexLookup(join(dir, 'lookup'), 10));
    try {
      expect(await predict(runtime, [0, 3, 9])).toEqual({
        status: 200,
        body: { predictions: [0, 3, 9] },
      });
      const outside = await predict(runtime, [42]);
      expect(outside.status).toBe(500);
      expect(JSON.stringify(outside.body)).toMatch(/42|index|range/i);
    } finally {
      await runtime.close();
    }
  });
});
