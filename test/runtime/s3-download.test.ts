// The s3:// source's downloads and its failures, against moto on loopback:
// parallel ranged parts (planned by a pure function), an abort, a part that
// fails, access denied, a refused session token, a missing object, and a
// bucket in another region (s3-region-front.ts answers as S3 does for that).

import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchModel } from '../../src/runtime/sources/fetch.js';
import { S3Source } from '../../src/runtime/sources/s3.js';
import { planParts } from '../../src/runtime/sources/s3-parts.js';
import { regionalFront } from './s3-region-front.js';
import type { S3Server } from './s3-server.js';
import { startS3 } from './s3-server.js';

const KiB = 1024;
// 3 MiB and a bit: four parts of 1 MiB, the last one short.
const BIG = 3 * 1024 * KiB + 123;

describe('planParts', () => {
  it('cuts [0, size) into contiguous, ordered, non-empty parts of at most partSize', () => {
    fc.assert(
      fc.property(fc.nat(10 ** 9), fc.integer({ min: 1, max: 10 ** 8 }), (size, partSize) => {
        fc.pre(size / partSize <= 10_000);
        const parts = planParts(size, partSize);
        expect(parts.length).toBe(Math.ceil(size / partSize));
        let next = 0;
        for (const [i, p] of parts.entries()) {
          expect(p.index).toBe(i);
          expect(p.start).toBe(next);
          expect(p.end).toBeGreaterThanOrEqual(p.start);
          expect(p.end - p.start + 1).toBeLessThanOrEqual(partSize);
          // Every part but the last is full.
          if (i < parts.length - 1) expect(p.end - p.start + 1).toBe(partSize);
          next = p.end + 1;
        }
        expect(next).toBe(size);
      }),
    );
  });

  it('refuses sizes that are not whole numbers of bytes', () => {
    expect(() => planParts(-1, 10)).toThrow('object size must be a whole number of bytes, got -1');
    expect(() => planParts(10, 0)).toThrow(
      'part size must be a positive whole number of bytes, got 0',
    );
    expect(() => planParts(1.5, 10)).toThrow('got 1.5');
  });
});

let dir: string;
let open: S3Server;
let secured: S3Server;
let big: Buffer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-s3-download-'));
  const model = join(dir, 'model');
  await mkdir(model);
  // Bytes that differ at every offset, so a part written at a wrong place shows.
  big = Buffer.alloc(BIG);
  for (let i = 0; i < BIG; i += 32) createHash('sha256').update(String(i)).digest().copy(big, i);
  await writeFile(join(model, 'model.json'), '{"format":"graph-model"}');
  await writeFile(join(model, 'group1-shard1of1.bin'), big);
  [open, secured] = await Promise.all([
    startS3({ auth: false, bucket: 'models', prefix: 'm/1/', modelDir: model }),
    startS3({ auth: true, bucket: 'models', prefix: 'm/1/', modelDir: model }),
  ]);
}, 90_000);
afterAll(async () => {
  await Promise.all([open?.stop(), secured?.stop()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** The environment of an in-process source: keys in it take the chain's place. */
function env(server: S3Server, over: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    TENSORFLEET_S3_ENDPOINT: server.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    TENSORFLEET_S3_PART_SIZE: String(1024 * KiB),
    ...over,
  };
}

const BIN = { path: 'group1-shard1of1.bin', size: BIG };

describe('s3 downloads (moto on loopback)', () => {
  it('downloads a large file in ranged parts side by side, each at its offset', async () => {
    const dest = join(dir, 'parts');
    const result = await fetchModel('s3://models/m/1', dest, { env: env(open) });
    expect(result).toMatchObject({ files: 2, bytes: BIG + 24 });
    expect((await readFile(join(dest, 'group1-shard1of1.bin'))).equals(big)).toBe(true);
  }, 60_000);

  it('stops every part when the signal aborts', async () => {
    const source = new S3Source('s3://models/m/1', env(open, { TENSORFLEET_S3_PART_SIZE: '4096' }));
    const controller = new AbortController();
    const file = join(dir, 'aborted.bin');
    const download = source.download(BIN, file, controller.signal);
    setTimeout(() => controller.abort(), 50);
    await expect(download).rejects.toMatchObject({ code: 'FETCH_FAILED' });
    // Nothing still writes: the file stays as the abort left it.
    const size = (await readFile(file)).length;
    await new Promise((r) => setTimeout(r, 200));
    expect((await readFile(file)).length).toBe(size);
    expect(size).toBeLessThan(BIG);
  }, 60_000);

  it('fails the file with the reason of the part that failed', async () => {
    // moto checks calls again after the first two (the parts go one at a time),
    // and the keys are of a user without a policy: part 3 is denied.
    const source = new S3Source(
      's3://models/m/1',
      env(secured, {
        AWS_ACCESS_KEY_ID: secured.denied.accessKeyId,
        AWS_SECRET_ACCESS_KEY: secured.denied.secretAccessKey,
        TENSORFLEET_S3_CONCURRENCY: '1',
      }),
    );
    await secured.skipAuth(2);
    await expect(source.download(BIN, join(dir, 'denied-part.bin'))).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: expect.stringMatching(
        /^s3:\/\/models\/m\/1\/group1-shard1of1\.bin part 3 of 4 \(bytes 2097152-3145727\): access denied \(HTTP 403\); check the credentials: AccessDenied: /,
      ) as unknown,
    });
  }, 60_000);

  it('says access denied, with the reason, for keys without a policy and for a refused session token', async () => {
    const denied = new S3Source(
      's3://models/m/1',
      env(secured, {
        AWS_ACCESS_KEY_ID: secured.denied.accessKeyId,
        AWS_SECRET_ACCESS_KEY: secured.denied.secretAccessKey,
      }),
    );
    await expect(denied.download(BIN, join(dir, 'denied.bin'))).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: expect.stringMatching(
        /^s3:\/\/models\/m\/1\/group1-shard1of1\.bin part \d of 4 \(bytes \d+-\d+\): access denied \(HTTP 403\); check the credentials: AccessDenied: Access Denied/,
      ) as unknown,
    });
    const badToken = new S3Source(
      's3://models/m/1',
      env(secured, {
        AWS_ACCESS_KEY_ID: secured.session.accessKeyId,
        AWS_SECRET_ACCESS_KEY: secured.session.secretAccessKey,
        AWS_SESSION_TOKEN: 'FQoGZXIvYXdzEXPIRED',
      }),
    );
    await expect(
      badToken.download({ path: 'model.json', size: 24 }, join(dir, 'token.json')),
    ).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message:
        's3://models/m/1/model.json part 1 of 1 (bytes 0-23): access denied (HTTP 400); check the credentials: InvalidToken: The provided token is malformed or otherwise invalid.',
    });
    const badSecret = new S3Source(
      's3://models/m/1',
      env(secured, { AWS_SECRET_ACCESS_KEY: 'wrong' }),
    );
    await expect(
      badSecret.download({ path: 'model.json', size: 24 }, join(dir, 'secret.json')),
    ).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: expect.stringContaining(
        'access denied (HTTP 403); check the credentials: SignatureDoesNotMatch: The request signature we calculated does not match',
      ) as unknown,
    });
  }, 60_000);

  it('says which object is missing', async () => {
    const source = new S3Source('s3://models/m/1', env(open));
    await expect(
      source.download({ path: 'gone.bin', size: 10 }, join(dir, 'gone.bin')),
    ).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message:
        's3://models/m/1/gone.bin part 1 of 1 (bytes 0-9) not found (HTTP 404): NoSuchKey: The specified key does not exist.',
    });
  }, 60_000);
});

describe('s3 regions', () => {
  it('follows a 301 PermanentRedirect to the region the bucket is in', async () => {
    const front = await regionalFront(open.endpoint, 'eu-west-1', false);
    try {
      const dest = join(dir, 'redirected');
      const result = await fetchModel('s3://models/m/1', dest, {
        env: env(open, { TENSORFLEET_S3_ENDPOINT: front.endpoint }),
      });
      expect(result.files).toBe(2);
      // The first request went to us-east-1 and was redirected; the listing, the
      // small file and the four parts of the large one reached moto signed for
      // eu-west-1 (AWS_REGION=eu-west-1 saves the redirects).
      expect(front.regions[0]).toBe('us-east-1');
      expect(front.regions.filter((r) => r === 'eu-west-1')).toHaveLength(6);
    } finally {
      await front.close();
    }
  }, 60_000);

  it('says "wrong region", and where the bucket is, when the redirect does not help', async () => {
    const front = await regionalFront(open.endpoint, 'eu-west-1', true);
    try {
      await expect(
        fetchModel('s3://models/m/1', join(dir, 'wrong-region'), {
          env: env(open, { TENSORFLEET_S3_ENDPOINT: front.endpoint }),
        }),
      ).rejects.toMatchObject({
        code: 'FETCH_FAILED',
        message: expect.stringMatching(
          /^listing s3:\/\/models\/m\/1: wrong region: bucket "models" is in eu-west-1, not in us-east-1 \(set AWS_REGION=eu-west-1\): PermanentRedirect: /,
        ) as unknown,
      });
    } finally {
      await front.close();
    }
  }, 60_000);
});
