// Fuzzing both protocols and the binary tensor extension: random JSON,
// nesting of any depth, valid bodies with random edits, random binary
// headers, random methods, paths and headers, on a runtime that decodes
// bodies on its HTTP thread and on one that decodes them in its workers. No
// input may get a 5xx, memory stays bounded, and after each run the runtime
// is still live, ready and answers a valid request correctly.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Fixtures, TestRuntime } from './helpers.js';
import { makeFixtures, startRuntime } from './helpers.js';

let fx: Fixtures;
const runtimes = new Map<string, TestRuntime>();

beforeAll(async () => {
  fx = await makeFixtures();
  runtimes.set(
    'HTTP thread',
    await startRuntime(fx.twoInTwoOut, { modelName: 'two', decodeInWorkersMinBytes: 1 << 30 }),
  );
  runtimes.set(
    'workers',
    await startRuntime(fx.twoInTwoOut, {
      modelName: 'two',
      decodeInWorkersMinBytes: 0,
      decodeOnHttpThreadMaxBytes: 0,
    }),
  );
}, 120_000);

afterAll(async () => {
  for (const rt of runtimes.values()) await rt.close();
  await fx?.cleanup();
});

const URLS = ['/v1/models/two:predict', '/v2/models/two/infer'] as const;

const VALID = {
  '/v1/models/two:predict': JSON.stringify({ instances: [{ a: [1, 2, 3], b: [4, 5] }] }),
  '/v2/models/two/infer': JSON.stringify({
    inputs: [
      { name: 'a', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
      { name: 'b', shape: [1, 2], datatype: 'FP32', data: [4, 5] },
    ],
  }),
};

/** A value wrapped `depth` times in arrays or objects, placed where a tensor or a field goes. */
const deep = fc
  .record({
    depth: fc.integer({ min: 1, max: 20_000 }),
    kind: fc.constantFrom('[', '{"a":', '{"data":', '['),
    leaf: fc.constantFrom('1', '"x"', 'null', '[]', '{}'),
    place: fc.constantFrom(
      (v: string) => `{"instances":${v}}`,
      (v: string) => `{"instances":[{"a":${v},"b":[1,2]}]}`,
      (v: string) => `{"inputs":{"a":${v},"b":[[1,2]]}}`,
      (v: string) => `{"inputs":[{"name":"a","shape":[1,3],"datatype":"FP32","data":${v}}]}`,
      (v: string) => v,
    ),
  })
  .map(({ depth, kind, leaf, place }) => {
    const close = kind === '[' ? ']' : '}';
    return place(kind.repeat(depth) + leaf + close.repeat(depth));
  });

/** A valid body with a few random edits: characters replaced, inserted or cut. */
const mutated = fc
  .record({
    url: fc.constantFrom(...URLS),
    edits: fc.array(
      fc.record({
        at: fc.nat(),
        cut: fc.integer({ min: 0, max: 4 }),
        text: fc.constantFrom(
          '',
          '[',
          ']',
          '{',
          '}',
          ',',
          '"',
          ':',
          '-',
          'e999',
          '1e-999',
          'NaN',
          'null',
          'true',
          '\\u0000',
          '\u00ff',
          '9'.repeat(40),
        ),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map(({ url, edits }) => {
    let body = VALID[url];
    for (const { at, cut, text } of edits) {
      const i = at % (body.length + 1);
      body = body.slice(0, i) + text + body.slice(i + cut);
    }
    return { url, body };
  });

async function expectServing(rt: TestRuntime): Promise<void> {
  const res = await rt.app.inject({
    method: 'POST',
    url: '/v1/models/two:predict',
    payload: VALID['/v1/models/two:predict'],
    headers: { 'content-type': 'application/json' },
  });
  expect(res.statusCode).toBe(200);
  expect(res.json()).toEqual({ predictions: [{ sum: [15], concat: [1, 2, 3, 4, 5] }] });
}

describe.each(['HTTP thread', 'workers'])('fuzzed requests, decoded on the %s', (where) => {
  /**
   * Sends the body; to the workers runtime twice at once (a lone request is
   * decoded on the idle HTTP thread), and answers with the worse status.
   */
  const post = async (
    url: string,
    payload: string | Buffer,
    headers: Record<string, string> = {},
  ): Promise<{ statusCode: number; body: string }> => {
    const send = () =>
      runtimes.get(where)!.app.inject({
        method: 'POST',
        url,
        payload,
        headers: { 'content-type': 'application/json', ...headers },
      });
    const answers = await Promise.all(where === 'workers' ? [send(), send()] : [send()]);
    return answers.reduce((worst, a) => (a.statusCode > worst.statusCode ? a : worst));
  };

  it('random JSON in either protocol: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...URLS), fc.jsonValue({ maxDepth: 6 }), async (url, v) => {
        const res = await post(url, JSON.stringify(v));
        expect(res.statusCode, res.body).toBeLessThan(500);
      }),
      { numRuns: 300 },
    );
    await expectServing(runtimes.get(where)!);
  }, 120_000);

  it('nesting of any depth, anywhere: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...URLS), deep, async (url, body) => {
        const res = await post(url, body);
        expect(res.statusCode, res.body.slice(0, 200)).toBeLessThan(500);
        expect(res.body.length).toBeLessThan(2000);
      }),
      { numRuns: 100 },
    );
    await expectServing(runtimes.get(where)!);
  }, 120_000);

  it('valid bodies with random edits: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(mutated, async ({ url, body }) => {
        const res = await post(url, body);
        expect(res.statusCode, `${body} -> ${res.body}`).toBeLessThan(500);
      }),
      { numRuns: 500 },
    );
    await expectServing(runtimes.get(where)!);
  }, 120_000);

  it('binary tensor extension with random header lengths and payloads: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: -5, max: 400 }),
        async (header, raw, length) => {
          const json = Buffer.from(header);
          const res = await post('/v2/models/two/infer', Buffer.concat([json, raw]), {
            'content-type': 'application/octet-stream',
            'inference-header-content-length': String(length),
          });
          expect(res.statusCode, res.body).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
    await expectServing(runtimes.get(where)!);
  }, 120_000);

  it('random methods, paths and headers: never a 5xx, and the runtime stays live and ready', async () => {
    const rt = runtimes.get(where)!;
    const printable = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
        fc.oneof(
          fc.constantFrom(
            ...URLS,
            '/v2',
            '/v2/health/ready',
            '/v1/models/two',
            '/v1/models/two/metadata',
            '/v2/models/two',
            '/v2/models/two/ready',
            '/metrics',
          ),
          // A request line always has a path; inject cannot send an empty one.
          fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
          printable.map((p) => `/v2/models/${encodeURIComponent(p)}/infer`),
        ),
        fc.dictionary(
          fc.constantFrom(
            'content-type',
            'accept',
            'accept-encoding',
            'content-encoding',
            'inference-header-content-length',
            'x-request-id',
            'timeout',
          ),
          printable,
        ),
        fc.option(fc.constantFrom(...Object.values(VALID)), { nil: undefined }),
        async (method, url, headers, payload) => {
          const res = await rt.app.inject({
            method: method as 'GET',
            url,
            headers,
            ...(payload === undefined || method === 'GET' || method === 'HEAD' ? {} : { payload }),
          });
          expect(
            res.statusCode,
            `${method} ${url} ${JSON.stringify(headers)} -> ${res.body}`,
          ).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
    expect((await rt.app.inject({ method: 'GET', url: '/v2/health/live' })).statusCode).toBe(200);
    expect((await rt.app.inject({ method: 'GET', url: '/v2/health/ready' })).statusCode).toBe(200);
    await expectServing(rt);
  }, 120_000);

  it('memory stays bounded: more fuzzing after a first round leaves it where it was', async () => {
    const rt = runtimes.get(where)!;
    // Edited bodies beside valid ones of 500-1,500 rows (20-60 KB each).
    const big = fc.integer({ min: 500, max: 1500 }).map((rows) => ({
      url: '/v1/models/two:predict',
      body: JSON.stringify({
        instances: Array.from({ length: rows }, (_, i) => ({ a: [i, 2, 3], b: [4, 5] })),
      }),
    }));
    const round = () =>
      fc.assert(
        fc.asyncProperty(fc.oneof(mutated, big), async ({ url, body }) => {
          const res = await post(url, body);
          expect(res.statusCode).toBeLessThan(500);
        }),
        { numRuns: 200 },
      );
    const collect = gc();
    await round();
    collect();
    const before = used();
    for (let i = 0; i < 5; i++) await round();
    collect();
    const grown = used() - before;
    // 1,000 more requests, about half of them 20-60 KB: keeping each body
    // grows it by about 12 MiB (tried); without a leak it moves 0.2-0.7 MiB.
    expect(grown, `memory grew ${(grown / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(4 * 2 ** 20);
    await expectServing(rt);
  }, 120_000);
});

/** JavaScript heap and the memory outside it (Buffers, typed arrays' stores). */
function used(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** A full garbage collection on demand (V8's flag turned on for this process). */
function gc(): () => void {
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  return () => {
    collect();
    collect();
  };
}
