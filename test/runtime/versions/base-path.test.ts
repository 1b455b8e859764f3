// Listing a versioned base path on every source: real directories for local
// paths, file:// and pvc://, index pages over loopback http, moto for s3,
// fake-gcs-server for gs. The same layout everywhere; the
// errors name the base path and the reason.

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchModel } from '../../../src/runtime/sources/fetch.js';
import {
  listVersions,
  parseVersionName,
  versionUri,
} from '../../../src/runtime/versions/base-path.js';
import type { S3Server } from '../s3-server.js';
import { startS3 } from '../s3-server.js';
import type { GcsEmulator } from '../gcs/emulator.js';
import { startGcsEmulator } from '../gcs/emulator.js';
import type { IndexServer } from './index-server.js';
import { startIndexServer } from './index-server.js';
import type { Entry } from './layout.js';
import { writeBasePath } from './layout.js';

const TSX = createRequire(import.meta.url).resolve('tsx');

/** One base path with every kind of entry a listing must sort out. */
const LAYOUT: Record<string, Entry> = {
  '1': 'graph',
  '2': 'saved-model',
  '3': 'no-model',
  '10': 'graph',
  '0': 'graph',
  '007': 'graph',
  tmp: 'graph',
  'README.md': 'file',
};
const NOT_A_VERSION = (name: string): { name: string; reason: string } => ({
  name,
  reason: `${name}/ is not a version: versions are positive integers without leading zeros`,
});

let root: string;
/** The layout above at <root>/store/models/mnist, plus a few odd base paths. */
let store: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tensorfleet-versions-'));
  store = join(root, 'store');
  await writeBasePath(join(store, 'models', 'mnist'), LAYOUT);
  await writeBasePath(join(store, 'models', 'unversioned'), { 'model.json': 'file', x: 'graph' });
  await writeBasePath(join(store, 'models', 'empty-versions'), { '4': 'no-model' });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

describe('parseVersionName and versionUri', () => {
  it('accepts canonical positive integers only', () => {
    expect(parseVersionName('1')).toBe(1);
    expect(parseVersionName('1234567890')).toBe(1234567890);
    for (const name of ['0', '007', '-1', '1.5', '1e3', ' 1', 'v1', '', '99999999999999999999'])
      expect(parseVersionName(name), name).toBeUndefined();
  });

  it('appends the version; remote URIs name a directory', () => {
    expect(versionUri('s3://models/mnist', 3)).toBe('s3://models/mnist/3/');
    expect(versionUri('s3://models/mnist/', 3)).toBe('s3://models/mnist/3/');
    expect(versionUri('gs://bkt/m//', 12)).toBe('gs://bkt/m/12/');
    expect(versionUri('https://h/models/m/', 2)).toBe('https://h/models/m/2/');
    expect(versionUri('/models/m/', 2)).toBe('/models/m/2');
    expect(versionUri('file:///models/m', 2)).toBe('file:///models/m/2');
    expect(versionUri('pvc://claim/m', 2)).toBe('pvc://claim/m/2');
    expect(() => versionUri('/m', 0)).toThrow('version 0 is not a positive integer (under /m)');
  });
});

describe('local base paths', () => {
  it('lists the version directories that hold a model, as detectFormat sees them', async () => {
    const base = join(store, 'models', 'mnist');
    const listing = await listVersions(base);
    expect(listing.basePath).toBe(base);
    expect(listing.versions).toEqual([1, 2, 10]);
    expect(listing.skipped).toEqual([
      NOT_A_VERSION('0'),
      NOT_A_VERSION('007'),
      {
        name: '3',
        reason: `no model found in ${join(base, '3')}: expected model.json (TF.js graph or layers model) or saved_model.pb (TF SavedModel)`,
      },
    ]);
  });

  it('reads file:// and pvc:// base paths, and follows symbolic links to version directories', async () => {
    const claimRoot = join(root, 'pvc');
    await mkdir(join(claimRoot, 'claim'), { recursive: true });
    await symlink(join(store, 'models'), join(claimRoot, 'claim', 'models'));
    const linked = join(root, 'linked');
    await mkdir(linked);
    await symlink(join(store, 'models', 'mnist', '10'), join(linked, '5'));
    await symlink(join(root, 'nowhere'), join(linked, '6'));
    const env = { TENSORFLEET_PVC_ROOT: claimRoot };
    expect((await listVersions('pvc://claim/models/mnist', { env })).versions).toEqual([1, 2, 10]);
    expect(
      (await listVersions(pathToFileURL(join(store, 'models', 'mnist')).href)).versions,
    ).toEqual([1, 2, 10]);
    expect(await listVersions(linked)).toMatchObject({ versions: [5], skipped: [] });
  });

  it('a version whose model.json is broken is skipped with the reason', async () => {
    const base = join(root, 'broken');
    await writeBasePath(base, { '1': 'graph', '2': 'graph' });
    await writeFile(join(base, '2', 'model.json'), '{"format":');
    const listing = await listVersions(base);
    expect(listing.versions).toEqual([1]);
    expect(listing.skipped[0]?.reason).toMatch(/^.*\/2\/model\.json is not valid JSON/);
  });

  it('says precisely what is wrong with the base path', async () => {
    await expect(listVersions(join(root, 'missing'))).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: `${join(root, 'missing')} not found: ${join(root, 'missing')} does not exist (ENOENT)`,
    });
    const file = join(store, 'models', 'mnist', 'README.md');
    await expect(listVersions(file)).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: `${file}: ${file} is a file, not a directory`,
    });
    const unversioned = join(store, 'models', 'unversioned');
    await expect(listVersions(unversioned)).rejects.toMatchObject({
      code: 'NO_MODEL_VERSIONS',
      message: `no version directories under ${unversioned}: expected ${unversioned}/1 and so on (<version> a positive integer); found model.json, x/`,
    });
    const noModels = join(store, 'models', 'empty-versions');
    await expect(listVersions(noModels)).rejects.toMatchObject({
      code: 'NO_MODEL_VERSIONS',
      message: `no version directory under ${noModels} holds a model: no model found in ${noModels}/4: expected model.json (TF.js graph or layers model) or saved_model.pb (TF SavedModel)`,
    });
    const emptyDir = join(root, 'empty');
    await mkdir(emptyDir);
    await expect(listVersions(emptyDir)).rejects.toThrow(/; it is empty$/);
  });

  it('reports an unreadable base path as access denied', async () => {
    const locked = join(root, 'locked');
    await writeBasePath(locked, { '1': 'graph' });
    await chmod(locked, 0o000);
    try {
      expect(await listingErrorCode(locked)).toBe('FETCH_UNAUTHORIZED');
    } finally {
      await chmod(locked, 0o755);
    }
  });
});

/**
 * The error code listVersions(path) fails with. Root reads any directory, so
 * as root the listing runs in a process of its own as nobody (uid 65534),
 * as a pod's non-root user would.
 */
async function listingErrorCode(path: string): Promise<string> {
  if (process.getuid?.() !== 0) {
    return listVersions(path).then(
      () => 'listed',
      (err: { code?: string }) => err.code ?? 'no code',
    );
  }
  await chmod(root, 0o755);
  const module = new URL('../../../src/runtime/versions/base-path.ts', import.meta.url).href;
  const script = `import(${JSON.stringify(module)}).then((m) => m.listVersions(${JSON.stringify(path)})).then(() => console.log('listed'), (e) => console.log(e.code ?? 'no code'))`;
  const child = spawnSync(
    process.execPath,
    ['--import', TSX, '--input-type=module', '-e', script],
    {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      env: { ...process.env, TSX_TSCONFIG_PATH: undefined },
    },
  );
  if (child.status !== 0) throw new Error(`the listing as nobody failed: ${child.stderr}`);
  return child.stdout.trim();
}

describe('http(s) base paths (index pages on loopback)', () => {
  let html: IndexServer;
  let json: IndexServer;
  beforeAll(async () => {
    [html, json] = await Promise.all([
      startIndexServer(store, 'html'),
      startIndexServer(store, 'json'),
    ]);
  });
  afterAll(async () => {
    await Promise.all([html?.stop(), json?.stop()]);
  });

  it('reads HTML and JSON autoindex pages; over http only TF.js models count', async () => {
    for (const server of [html, json]) {
      for (const base of [`${server.url}/models/mnist`, `${server.url}/models/mnist/`]) {
        const listing = await listVersions(base);
        expect(listing.versions, base).toEqual([1, 10]);
        expect(listing.skipped, base).toEqual([
          NOT_A_VERSION('0'),
          NOT_A_VERSION('007'),
          { name: '2', reason: 'no model in 2/: expected model.json' },
          { name: '3', reason: 'no model in 3/: expected model.json' },
        ]);
      }
    }
  });

  it('fetches one version with the download code, through versionUri', async () => {
    const dest = join(root, 'http-v10');
    const result = await fetchModel(versionUri(`${html.url}/models/mnist`, 10), dest);
    expect(result.files).toBe(2);
    expect(await listDir(dest)).toEqual(['group1-shard1of1.bin', 'model.json']);
  });

  it('says when the base path is missing, denied, or not an index', async () => {
    await expect(listVersions(`${html.url}/models/nope`)).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: expect.stringMatching(
        /^listing http:\/\/127\.0\.0\.1:\d+\/models\/nope\/ not found \(HTTP 404\)/,
      ) as unknown,
    });
    await expect(listVersions(`${html.url}/private/m`)).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: `listing ${html.url}/private/m/: access denied (HTTP 403); check the credentials: forbidden`,
    });
    await expect(listVersions(`${html.url}/models/unversioned`)).rejects.toMatchObject({
      code: 'NO_MODEL_VERSIONS',
      message: `no version directories under ${html.url}/models/unversioned: expected ${html.url}/models/unversioned/1/ and so on (<version> a positive integer); found model.json, x/`,
    });
  });

  it('retries a transient 503 when asked to, and fails on it when not', async () => {
    html.failNext = 1;
    await expect(listVersions(`${html.url}/models/mnist`)).rejects.toMatchObject({
      code: 'FETCH_FAILED',
      message: `listing ${html.url}/models/mnist/: HTTP 503: busy`,
    });
    html.failNext = 2;
    const logs: string[] = [];
    const listing = await listVersions(`${html.url}/models/mnist`, {
      retries: 2,
      backoffMs: 1,
      log: (m) => logs.push(m),
    });
    expect(listing.versions).toEqual([1, 10]);
    expect(logs).toHaveLength(2);
  });
});

describe('gs base paths (fake-gcs-server)', () => {
  let gcs: GcsEmulator;
  const env = (): NodeJS.ProcessEnv => ({
    TENSORFLEET_GCS_ENDPOINT: gcs.endpoint,
    TENSORFLEET_GCS_TOKEN: 'tok',
  });
  beforeAll(async () => {
    gcs = await startGcsEmulator({ tokens: ['tok'], maxResults: 1 });
    await gcs.createBucket('bkt');
    await gcs.putTree('bkt', store);
    // A second object beside README.md: the level's listing takes two pages.
    await gcs.put('bkt', 'models/mnist/CHANGELOG.md', 'notes\n');
  }, 120_000);
  afterAll(async () => {
    await gcs?.stop();
  });

  it('lists one level with the delimiter, across pages', async () => {
    await gcs.sync();
    const from = gcs.requests.length;
    const listing = await listVersions('gs://bkt/models/mnist', { env: env() });
    expect(listing.versions).toEqual([1, 2, 10]);
    expect(listing.skipped).toEqual([
      NOT_A_VERSION('0'),
      NOT_A_VERSION('007'),
      {
        name: '3',
        reason: 'no model in 3/: expected saved_model.pb or saved_model.pbtxt or model.json',
      },
    ]);
    await gcs.sync();
    const requests = gcs.requests
      .slice(from)
      .map((r) => new URL(r.split(' ')[1] ?? '', 'http://x'));
    expect(requests[0]?.searchParams.get('prefix')).toBe('models/mnist/');
    expect(requests[0]?.searchParams.get('delimiter')).toBe('/');
    expect(requests.some((r) => r.searchParams.has('pageToken'))).toBe(true);
  });

  it('fetches one version with the download code, through versionUri', async () => {
    const dest = join(root, 'gs-v2');
    const result = await fetchModel(versionUri('gs://bkt/models/mnist', 2), dest, { env: env() });
    expect(result.files).toBe(2);
    expect(await listDir(dest)).toEqual([
      'saved_model.pb',
      'variables',
      'variables/variables.index',
    ]);
  });

  it('says when the base path is missing, an object, denied, or the bucket is wrong', async () => {
    await expect(listVersions('gs://bkt/models/nope', { env: env() })).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message:
        'gs://bkt/models/nope/ not found (HTTP 404): no objects under prefix "models/nope/" in bucket "bkt"',
    });
    await expect(
      listVersions('gs://bkt/models/mnist/README.md', { env: env() }),
    ).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: 'gs://bkt/models/mnist/README.md is an object, not a directory',
    });
    await expect(
      listVersions('gs://bkt/models/mnist', { env: { ...env(), TENSORFLEET_GCS_TOKEN: 'bad' } }),
    ).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: expect.stringMatching(
        /^listing gs:\/\/bkt\/models\/mnist\/: access denied \(HTTP 401\); check the credentials/,
      ) as unknown,
    });
    await expect(listVersions('gs://other/models/mnist', { env: env() })).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message:
        'listing gs://other/models/mnist/ not found (HTTP 404): bucket "other" does not exist',
    });
  });
});

describe('s3 base paths (moto on loopback)', () => {
  let open: S3Server;
  let secured: S3Server;
  beforeAll(async () => {
    [open, secured] = await Promise.all([
      startS3({ auth: false, bucket: 'models', prefix: '', modelDir: join(store, 'models') }),
      startS3({ auth: true, bucket: 'models', prefix: '', modelDir: join(store, 'models') }),
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

  // Listed on the server without auth: moto (5.x) refuses even botocore's own
  // signature of a hand-made ListObjectsV2 request (checked while writing this),
  // so the auth server only shows refusals.
  it('lists one level with ListObjectsV2 and a "/" delimiter', async () => {
    {
      const listing = await listVersions('s3://models/mnist', { env: env(open) });
      expect(listing.versions).toEqual([1, 2, 10]);
      expect(listing.skipped).toEqual([
        NOT_A_VERSION('0'),
        NOT_A_VERSION('007'),
        {
          name: '3',
          reason: 'no model in 3/: expected saved_model.pb or saved_model.pbtxt or model.json',
        },
      ]);
    }
  });

  it('fetches one version with the download code, through versionUri', async () => {
    const dest = join(root, 's3-v1');
    const result = await fetchModel(versionUri('s3://models/mnist', 1), dest, { env: env(open) });
    expect(result.files).toBe(2);
    expect(await listDir(dest)).toEqual(['group1-shard1of1.bin', 'model.json']);
  });

  it('says when the base path is missing, an object, denied, or the bucket is wrong', async () => {
    await expect(listVersions('s3://models/nope', { env: env(open) })).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message:
        's3://models/nope/ not found (HTTP 404): no objects under prefix "nope/" in bucket "models"',
    });
    await expect(
      listVersions('s3://models/mnist/README.md', { env: env(open) }),
    ).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: 's3://models/mnist/README.md is an object, not a directory',
    });
    await expect(
      listVersions('s3://models/mnist', {
        env: env(secured, { AWS_ACCESS_KEY_ID: 'AKIANOTAREALKEY00000' }),
      }),
    ).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: expect.stringMatching(
        /^listing s3:\/\/models\/mnist\/: access denied \(HTTP 403\); check the credentials: InvalidAccessKeyId/,
      ) as unknown,
    });
    await expect(listVersions('s3://nope/mnist', { env: env(open) })).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: 'bucket "nope" not found (HTTP 404): NoSuchBucket',
    });
  });
});
