// One request never receives another's rows. Concurrent requests to a model
// with two inputs (a [-1,3], b [-1,2]; outputs sum = Σa + Σb and concat =
// [a, b]), each with random row counts, equal or not, in either protocol, are
// batched together; every answer must be exactly what the model computes for
// that request alone, and a request whose inputs disagree on the batch size
// must get a 400 saying so (before, wasm answered it with rows of an earlier
// request, cpu and tensorflow with a 500, and extra rows were dropped).

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Fixtures, TestRuntime } from './helpers.js';
import { makeFixtures, metricValue, startRuntime } from './helpers.js';
import { testBackend } from './native.js';

// This project's backend (wasm, or tensorflow in the `tensorflow` project), and cpu.
const BACKENDS = [...new Set([testBackend(), 'cpu' as const])];

let fx: Fixtures;
const runtimes = new Map<string, TestRuntime>();

beforeAll(async () => {
  fx = await makeFixtures();
  for (const backend of BACKENDS) {
    // Batches of up to 16 rows, held up to 5 ms: concurrent requests merge.
    runtimes.set(
      backend,
      await startRuntime(fx.twoInTwoOut, {
        modelName: 'two',
        backend,
        maxBatchSize: 16,
        batchTimeoutMicros: 5000,
      }),
    );
  }
}, 120_000);

afterAll(async () => {
  for (const rt of runtimes.values()) await rt.close();
  await fx?.cleanup();
});

interface Req {
  a: number[][];
  b: number[][];
  protocol: 'tfserving' | 'oip';
}

const row = (width: number) =>
  fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: width, maxLength: width });
const rows = (width: number, n: number) => fc.array(row(width), { minLength: n, maxLength: n });
/** Three in four requests agree on their rows; the rest carry a different count in "b". */
const request: fc.Arbitrary<Req> = fc.integer({ min: 1, max: 5 }).chain((n) =>
  fc.record({
    a: rows(3, n),
    b: fc
      .oneof(
        { weight: 3, arbitrary: fc.constant(n) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }).filter((m) => m !== n) },
      )
      .chain((m) => rows(2, m)),
    protocol: fc.constantFrom('tfserving' as const, 'oip' as const),
  }),
);

/** What the model gives for this request alone. */
function expected(req: Req): { sum: number[][]; concat: number[][] } {
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  return {
    sum: req.a.map((a, i) => [sum(a) + sum(req.b[i] ?? [])]),
    concat: req.a.map((a, i) => [...a, ...(req.b[i] ?? [])]),
  };
}

/** Sends one request; resolves with its status and outputs (as row lists) or error. */
async function send(
  rt: TestRuntime,
  req: Req,
): Promise<{ status: number; outputs?: Record<string, number[][]>; error?: string }> {
  if (req.protocol === 'tfserving') {
    const res = await rt.app.inject({
      method: 'POST',
      url: '/v1/models/two:predict',
      payload: { inputs: { a: req.a, b: req.b } },
    });
    const body = res.json<{ outputs?: Record<string, number[][]>; error?: string }>();
    return { status: res.statusCode, ...body };
  }
  const res = await rt.app.inject({
    method: 'POST',
    url: '/v2/models/two/infer',
    payload: {
      inputs: [
        { name: 'a', shape: [req.a.length, 3], datatype: 'FP32', data: req.a.flat() },
        { name: 'b', shape: [req.b.length, 2], datatype: 'FP32', data: req.b.flat() },
      ],
    },
  });
  const body = res.json<{
    outputs?: Array<{ name: string; shape: number[]; data: number[] }>;
    error?: string;
  }>();
  if (body.outputs === undefined) return { status: res.statusCode, error: body.error ?? '' };
  const outputs: Record<string, number[][]> = {};
  for (const out of body.outputs) {
    const width = out.shape[1] ?? 1;
    outputs[out.name] = Array.from({ length: out.shape[0] ?? 0 }, (_, i) =>
      out.data.slice(i * width, (i + 1) * width),
    );
  }
  return { status: res.statusCode, outputs };
}

describe.each(BACKENDS)('requests with several inputs (%s)', (backend) => {
  it('each answer is its own request’s, whatever rows concurrent requests carry; mismatched rows get 400', async () => {
    const rt = runtimes.get(backend)!;
    const batchesBefore =
      (await metricValue(rt.metrics, 'tensorfleet_runtime_batch_size_count')) ?? 0;
    let valid = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 12 }), async (reqs) => {
        const answers = await Promise.all(reqs.map((req) => send(rt, req)));
        reqs.forEach((req, i) => {
          const answer = answers[i]!;
          if (req.a.length === req.b.length) {
            valid++;
            expect(answer.status).toBe(200);
            expect(answer.outputs).toEqual(expected(req));
          } else {
            expect(answer.status).toBe(400);
            expect(answer.error).toContain(
              `the inputs disagree on the batch size (dimension 0): "a" has ${req.a.length}, "b" has ${req.b.length}`,
            );
          }
        });
      }),
      { numRuns: 60 },
    );
    // The property held with requests sharing batches, not one model run each.
    const batches =
      ((await metricValue(rt.metrics, 'tensorfleet_runtime_batch_size_count')) ?? 0) -
      batchesBefore;
    expect(valid).toBeGreaterThan(50);
    expect(batches).toBeLessThan(valid);
  }, 120_000);
});
