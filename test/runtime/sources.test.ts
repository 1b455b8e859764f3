// Model sources: file, pvc, http (loopback), s3 (moto on loopback), gs
// (loopback JSON API), atomic publication, retries, and precise failures.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchModel } from '../../src/runtime/sources/fetch.js';
import { localPath } from '../../src/runtime/sources/local.js';
import type { Fixtures } from './helpers.js';
import { makeFixtures, startRuntime } from './helpers.js';
import { runCli } from './process.js';
import type { S3Server } from './s3-server.js';
import { startS3 } from './s3-server.js';

let fx: Fixtures;
let work: string;
beforeAll(async () => {
  fx = await makeFixtures();
  work = join(fx.root, 'work');
  await mkdir(work, { recursive: true });
}, 60_000);
afterAll(async () => {
  await fx?.cleanup();
});

async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

/** Predictions of the MLP fixture served from `dir`, for comparing copies. */
async function predictMlp(dir: string): Promise<unknown> {
  const rt = await startRuntime(dir, { modelName: 'mlp', backend: 'cpu' });
  try {
    const res = await rt.app.inject({
      method: 'POST',
      url: '/v1/models/mlp:predict',
      payload: { instances: [Array.from({ length: 784 }, (_, i) => (i % 10) / 10)] },
    });
    expect(res.statusCode).toBe(200);
    return res.json();
  } finally {
    await rt.close();
  }
}

describe('file and pvc sources', () => {
  it('copies a file:// model and replaces an existing destination atomically', async () => {
    const dest = join(work, 'file-dest');
    await mkdir(dest, { recursive: true });
    await writeFile(join(dest, 'stale.txt'), 'old');
    const result = await fetchModel(pathToFileURL(fx.mlpGraph).href, dest);
    expect(result).toMatchObject({ dir: dest, files: 2 });
    expect(await listDir(dest)).toEqual(['group1-shard1of1.bin', 'model.json']);
    // No temp or backup directories are left next to the destination.
    expect((await readdir(work)).filter((n) => n.startsWith('file-dest'))).toEqual(['file-dest']);
  });

  it('maps pvc://<claim>/<path> under TENSORFLEET_PVC_ROOT without escaping the claim', () => {
    const env = { TENSORFLEET_PVC_ROOT: '/mnt/models' };
    expect(localPath('pvc://shared/mnist/3', env)).toBe('/mnt/models/shared/mnist/3');
    expect(localPath('pvc://shared/../../etc', env)).toBe('/mnt/models/shared/etc');
    expect(localPath('pvc://claim', {})).toBe('/mnt/pvc/claim');
  });

  it('fails with a precise message for a missing local model', async () => {
    await expect(fetchModel('file:///nonexistent/model', join(work, 'x'))).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message:
        'model file:///nonexistent/model not found: /nonexistent/model does not exist (ENOENT)',
    });
  });
});

describe('http source', () => {
  let server: Server;
  let base: string;
  const hits = new Map<string, number>();
  let failuresLeft = 0;

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = req.url ?? '/';
      hits.set(url, (hits.get(url) ?? 0) + 1);
      void (async () => {
        if (url.startsWith('/flaky/') && failuresLeft > 0) {
          failuresLeft--;
          res.writeHead(503).end('busy');
          return;
        }
        const [, kind, ...rest] = url.split('/');
        const file = join(fx.mlpGraph, rest.join('/'));
        let data: Buffer;
        try {
          data = await readFile(file);
        } catch {
          res.writeHead(404).end('no such file');
          return;
        }
        if (kind === 'silent' && file.endsWith('.bin')) return; // never answers
        if (kind === 'stalled' && file.endsWith('.bin')) {
          // Announces the full size, sends a quarter, then nothing (the connection stays open).
          res.writeHead(200, { 'content-length': data.length });
          res.write(data.subarray(0, data.length >> 2));
          return;
        }
        if (kind === 'slow' && file.endsWith('.bin')) {
          // Slow but moving: eight pieces, 100 ms apart.
          res.writeHead(200, { 'content-length': data.length });
          const piece = Math.ceil(data.length / 8);
          for (let at = 0; at < data.length; at += piece) {
            res.write(data.subarray(at, at + piece));
            await new Promise((r) => setTimeout(r, 100));
          }
          res.end();
          return;
        }
        if (kind === 'truncated' && file.endsWith('.bin')) {
          // Announce the full size, send half, then drop the connection.
          res.writeHead(200, { 'content-length': data.length });
          res.write(data.subarray(0, data.length >> 1), () => res.destroy());
          return;
        }
        res.writeHead(200, { 'content-length': data.length }).end(data);
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('downloads model.json and its weight shards, and the copy serves like the original', async () => {
    const dest = join(work, 'http-dest');
    const result = await fetchModel(`${base}/ok/model.json`, dest);
    expect(result.files).toBe(2);
    expect(await listDir(dest)).toEqual(['group1-shard1of1.bin', 'model.json']);
    expect(await predictMlp(dest)).toEqual(await predictMlp(fx.mlpGraph));
  }, 60_000);

  it('fails at once on 404 with the URL in the message', async () => {
    hits.clear();
    await expect(
      fetchModel(`${base}/ok/missing/model.json`, join(work, 'h404'), { backoffMs: 1 }),
    ).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: `${base}/ok/missing/model.json not found (HTTP 404): no such file`,
    });
    expect(hits.get('/ok/missing/model.json')).toBe(1);
  });

  it('retries a truncated download, then fails with the byte counts and leaves nothing behind', async () => {
    hits.clear();
    const dest = join(work, 'truncated');
    const err = await fetchModel(`${base}/truncated/model.json`, dest, {
      retries: 2,
      backoffMs: 5,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FETCH_SIZE_MISMATCH' });
    expect((err as Error).message).toMatch(
      /group1-shard1of1\.bin: the download broke off after \d+ of 407080 bytes \(truncated.*\(gave up after 3 attempts\)/,
    );
    expect(hits.get('/truncated/group1-shard1of1.bin')).toBe(3);
    expect((await readdir(work)).filter((n) => n.startsWith('truncated'))).toEqual([]);
  });

  it('a server that stops sending, before the headers or mid-body, is a stall: retried, then a precise failure', async () => {
    for (const [kind, bytes] of [
      ['silent', '0'],
      ['stalled', String(407080 >> 2)],
    ] as const) {
      hits.clear();
      const started = performance.now();
      const err = await fetchModel(`${base}/${kind}/model.json`, join(work, kind), {
        retries: 1,
        backoffMs: 5,
        stallMs: 300,
      }).catch((e: unknown) => e);
      expect(err, kind).toMatchObject({ code: 'FETCH_FAILED' });
      expect((err as Error).message).toBe(
        `downloading group1-shard1of1.bin: stalled: no data for 0.3 s after ${bytes} bytes (gave up after 2 attempts)`,
      );
      expect(hits.get(`/${kind}/group1-shard1of1.bin`)).toBe(2);
      // Two attempts of 0.3 s each, not the 10-minute request limit.
      expect(performance.now() - started).toBeLessThan(10_000);
    }
  });

  it('a slow download that keeps moving is not a stall, and progress is reported meanwhile', async () => {
    const progress: number[] = [];
    const result = await fetchModel(`${base}/slow/model.json`, join(work, 'slow'), {
      stallMs: 300,
      onProgress: (p) => progress.push(p.bytes),
    });
    expect(result.files).toBe(2);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((b, i) => i === 0 || b >= (progress[i - 1] ?? 0))).toBe(true);
  });

  it('rides out transient 503s with backoff', async () => {
    failuresLeft = 2;
    const logs: string[] = [];
    const result = await fetchModel(`${base}/flaky/model.json`, join(work, 'flaky'), {
      retries: 3,
      backoffMs: 5,
      log: (m) => logs.push(m),
    });
    expect(result.files).toBe(2);
    expect(logs.filter((l) => /HTTP 503: busy; retrying in \d+ ms/.test(l))).toHaveLength(2);
  });
});

describe('s3 source (moto on loopback)', () => {
  let open: S3Server;
  let secured: S3Server;
  beforeAll(async () => {
    [open, secured] = await Promise.all([
      startS3({ auth: false, bucket: 'models', prefix: 'mlp/1/', modelDir: fx.mlpGraph }),
      startS3({ auth: true, bucket: 'models', prefix: 'mlp/1/', modelDir: fx.mlpGraph }),
    ]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([open?.stop(), secured?.stop()]);
  });

  const env = (s: S3Server, over: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    TENSORFLEET_S3_ENDPOINT: s.endpoint,
    AWS_ACCESS_KEY_ID: s.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s.secretAccessKey,
    ...over,
  });

  it('lists and downloads a prefix; the copy serves like the original', async () => {
    const dest = join(work, 's3-dest');
    const result = await fetchModel('s3://models/mlp/1', dest, { env: env(open) });
    expect(result.files).toBe(2);
    expect(await listDir(dest)).toEqual(['group1-shard1of1.bin', 'model.json']);
    expect(await predictMlp(dest)).toEqual(await predictMlp(fx.mlpGraph));
  }, 60_000);

  it('says when the prefix or the bucket does not exist', async () => {
    await expect(
      fetchModel('s3://models/mlp/2', join(work, 's3-missing'), { env: env(open) }),
    ).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message:
        's3://models/mlp/2 not found (HTTP 404): no objects under prefix "mlp/2/" in bucket "models"',
    });
    await expect(
      fetchModel('s3://nope/mlp/1', join(work, 's3-nobucket'), { env: env(open) }),
    ).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: 'bucket "nope" not found (HTTP 404): NoSuchBucket',
    });
  });

  it('reports bad credentials as access denied with the server reason, without retrying', async () => {
    const logs: string[] = [];
    await expect(
      fetchModel('s3://models/mlp/1', join(work, 's3-badkey'), {
        env: env(secured, { AWS_ACCESS_KEY_ID: 'AKIANOTAREALKEY00000' }),
        log: (m) => logs.push(m),
      }),
    ).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: expect.stringMatching(
        /^listing s3:\/\/models\/mlp\/1: access denied \(HTTP 403\); check the credentials: InvalidAccessKeyId/,
      ) as unknown,
    });
    await expect(
      fetchModel('s3://models/mlp/1', join(work, 's3-badsecret'), {
        env: env(secured, { AWS_SECRET_ACCESS_KEY: 'wrong' }),
      }),
    ).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: expect.stringMatching(/SignatureDoesNotMatch/) as unknown,
    });
    expect(logs).toEqual([]);
  });
});

describe('tensorfleet-runtime fetch (init container command)', () => {
  it('downloads and prints a JSON summary; fails with exit 1 and the error code', async () => {
    const dest = join(work, 'cli-dest');
    const ok = await runCli([
      'fetch',
      '--model-uri',
      pathToFileURL(fx.halfPlusTwo).href,
      '--dest',
      dest,
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ dest, files: 2 });
    const bad = await runCli([
      'fetch',
      '--model-uri',
      'file:///nope',
      '--dest',
      join(work, 'cli-bad'),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      'tensorfleet-runtime: FETCH_NOT_FOUND: model file:///nope not found',
    );
    const usage = await runCli(['fetch', '--dest', dest]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--model-uri (or TENSORFLEET_MODEL_URI) is required');
  }, 60_000);
});
