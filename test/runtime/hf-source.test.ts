// hf:// model sources against a loopback Hub (test/runtime/hf-hub-server.ts)
// and a second loopback "CDN" host: revision pinning, pagination, LFS
// redirects without the token, digests, and one precise error per way the
// Hub refuses.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchModel } from '../../src/runtime/sources/fetch.js';
import { HfSource, nextLink } from '../../src/runtime/sources/hf.js';
import { retryAfterSeconds } from '../../src/runtime/sources/hf-hub.js';
import { listVersions } from '../../src/runtime/versions/base-path.js';
import type { HubServer } from './hf-hub-server.js';
import { startHub } from './hf-hub-server.js';
import { runCli } from './process.js';

const MODEL_JSON = JSON.stringify({ format: 'graph-model', weightsManifest: [] });
const WEIGHTS = randomBytes(200_000);

let hub: HubServer;
let work: string;
let main1: string;

beforeAll(async () => {
  hub = await startHub();
  work = await mkdtemp(join(tmpdir(), 'tf-hf-'));
  main1 = hub.push('acme/mlp', 'main', {
    'README.md': '# mlp',
    'tfjs/model.json': MODEL_JSON,
    'tfjs/group1-shard1of1.bin': WEIGHTS,
    'tfjs/vocab/labels.txt': 'a\nb\n',
  });
  hub.repos.get('acme/mlp')!.refs.set('v1.0', main1);
  hub.repos.get('acme/mlp')!.lfsThreshold = 1000;
  hub.push('acme/private', 'main', { 'm/model.json': MODEL_JSON });
  hub.repos.get('acme/private')!.private = true;
  hub.push('acme/gated', 'main', { 'm/model.json': MODEL_JSON });
  hub.repos.get('acme/gated')!.gated = true;
  hub.push('acme/versions', 'main', {
    'mnist/1/model.json': MODEL_JSON,
    'mnist/2/model.json': MODEL_JSON,
    'mnist/3/notes.txt': 'no model here',
  });
  hub.tokens.set('hf_reader', new Set(['acme/private', 'acme/gated']));
  hub.tokens.set('hf_other', new Set());
});
afterAll(async () => {
  await hub?.close();
  await rm(work, { recursive: true, force: true });
});
afterEach(() => {
  hub.seen.length = 0;
  hub.pageSize = 1000;
  hub.rateLimit.remaining = 0;
  hub.corrupt.clear();
});

const env = (token?: string): NodeJS.ProcessEnv => ({
  HF_ENDPOINT: hub.endpoint,
  ...(token === undefined ? {} : { HF_TOKEN: token }),
});

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

async function failure(
  uri: string,
  e: NodeJS.ProcessEnv,
): Promise<{ code: string; message: string }> {
  const err = (await fetchModel(uri, join(work, 'fail'), { env: e, retries: 0 }).catch(
    (x: unknown) => x,
  )) as { code: string; message: string };
  expect(err).toHaveProperty('code');
  return err;
}

describe('hf:// source', () => {
  it('downloads the files under the path at one commit, following LFS redirects to the CDN without the token', async () => {
    hub.pageSize = 1; // three files and a directory under tfjs/: four pages
    const dest = join(work, 'mlp');
    const result = await fetchModel('hf://acme/mlp/tfjs', dest, { env: env('hf_other') });
    expect(await files(dest)).toEqual(['group1-shard1of1.bin', 'model.json', 'vocab/labels.txt']);
    expect(result.bytes).toBe(WEIGHTS.length + MODEL_JSON.length + 4);
    expect(await readFile(join(dest, 'group1-shard1of1.bin'))).toEqual(WEIGHTS);
    expect(await readFile(join(dest, 'model.json'), 'utf8')).toBe(MODEL_JSON);

    const hubUrls = hub.seen.filter((s) => s.server === 'hub');
    expect(hubUrls[0]?.url).toBe('/api/models/acme/mlp/revision/main');
    // Everything after the revision names its commit, never the branch.
    expect(hubUrls.slice(1).every((s) => s.url.includes(`/${main1}`))).toBe(true);
    expect(hubUrls.filter((s) => s.url.includes('/tree/'))).toHaveLength(4);
    expect(hubUrls.every((s) => s.auth === 'Bearer hf_other')).toBe(true);
    const cdn = hub.seen.filter((s) => s.server === 'cdn');
    expect(cdn).toHaveLength(1);
    expect(cdn[0]?.auth).toBeUndefined();
  });

  it('pins the files to the commit it resolved, though the branch moves meanwhile', async () => {
    const source = new HfSource('hf://acme/mlp@main/tfjs', env());
    const listed = await source.list();
    const moved = hub.push('acme/mlp', 'main', {
      'tfjs/model.json': '{"format":"layers-model"}',
      'tfjs/group1-shard1of1.bin': randomBytes(5000),
    });
    try {
      const json = listed.find((f) => f.path === 'model.json')!;
      await source.download(json, join(work, 'pinned.json'));
      expect(await readFile(join(work, 'pinned.json'), 'utf8')).toBe(MODEL_JSON);
      const fresh = await fetchModel('hf://acme/mlp/tfjs', join(work, 'fresh'), { env: env() });
      expect(fresh.files).toBe(2);
    } finally {
      hub.repos.get('acme/mlp')!.refs.set('main', main1);
      hub.repos.get('acme/mlp')!.commits.delete(moved);
    }
  });

  it('takes a tag, a commit sha, or the whole repository', async () => {
    for (const rev of ['v1.0', main1]) {
      const r = await fetchModel(`hf://acme/mlp@${rev}/tfjs/vocab`, join(work, 'rev'), {
        env: env(),
      });
      expect(r.files).toBe(1);
    }
    const all = await fetchModel('hf://acme/mlp', join(work, 'all'), { env: env() });
    expect(all.files).toBe(4);
  });

  it('follows the relative redirect of a renamed repository, keeping the token on the Hub', async () => {
    hub.renamed.set('old-name/private', 'acme/private');
    try {
      const r = await fetchModel('hf://old-name/private/m', join(work, 'renamed'), {
        env: env('hf_reader'),
      });
      expect(r.files).toBe(1);
      const hubSeen = hub.seen.filter((s) => s.server === 'hub');
      expect(hubSeen.some((s) => s.url.startsWith('/api/models/old-name/private/'))).toBe(true);
      expect(hubSeen.some((s) => s.url.startsWith('/acme/private/resolve/'))).toBe(true);
      expect(hubSeen.every((s) => s.auth === 'Bearer hf_reader')).toBe(true);
    } finally {
      hub.renamed.clear();
    }
  });

  it('lists a versioned base path on the Hub (directories 1/, 2/ with a model; 3/ without)', async () => {
    const listing = await listVersions('hf://acme/versions/mnist', { env: env() });
    expect(listing.versions).toEqual([1, 2]);
    expect(listing.skipped.map((s) => s.name)).toEqual(['3']);
  });

  it('says which of repository, revision and path is missing', async () => {
    const repo = await failure('hf://acme/nope/m', env('hf_other'));
    expect(repo.code).toBe('FETCH_NOT_FOUND');
    expect(repo.message).toContain('Hugging Face repository acme/nope not found');
    const rev = await failure('hf://acme/mlp@v9/tfjs', env());
    expect(rev.code).toBe('FETCH_NOT_FOUND');
    expect(rev.message).toContain('revision "v9" not found in Hugging Face repository acme/mlp');
    const path = await failure('hf://acme/mlp/onnx', env());
    expect(path.code).toBe('FETCH_NOT_FOUND');
    expect(path.message).toContain(
      `path "onnx" not found in acme/mlp at revision "main" (commit ${main1.slice(0, 12)})`,
    );
    const file = await failure('hf://acme/mlp/tfjs/model.json', env());
    expect(file.code).toBe('FETCH_NOT_FOUND');
    expect(file.message).toContain('tfjs/model.json is a file in acme/mlp');
  });

  it('says whether the token is missing, rejected or without access (private and gated repositories)', async () => {
    const cases: [string, string | undefined, string, string][] = [
      [
        'acme/private',
        undefined,
        'FETCH_UNAUTHORIZED',
        'not found, or private and no HF_TOKEN is set',
      ],
      ['acme/private', 'hf_bad', 'FETCH_UNAUTHORIZED', 'the Hub rejected HF_TOKEN'],
      [
        'acme/private',
        'hf_other',
        'FETCH_NOT_FOUND',
        'or private and not visible to the account of HF_TOKEN',
      ],
      ['acme/gated', undefined, 'FETCH_UNAUTHORIZED', 'acme/gated is gated: set HF_TOKEN'],
      ['acme/gated', 'hf_other', 'FETCH_UNAUTHORIZED', 'has not been granted access'],
      [
        'acme/nope',
        undefined,
        'FETCH_UNAUTHORIZED',
        'not found, or private and no HF_TOKEN is set',
      ],
    ];
    for (const [repo, token, code, text] of cases) {
      const err = await failure(`hf://${repo}/m`, env(token));
      expect({ repo, token, code: err.code }).toEqual({ repo, token, code });
      expect(err.message).toContain(text);
    }
    for (const repo of ['acme/private', 'acme/gated']) {
      const ok = await fetchModel(`hf://${repo}/m`, join(work, 'granted'), {
        env: env('hf_reader'),
      });
      expect(ok.files).toBe(1);
    }
    // HUGGING_FACE_HUB_TOKEN is the older name of the same variable.
    const old = await fetchModel('hf://acme/private/m', join(work, 'granted'), {
      env: { HF_ENDPOINT: hub.endpoint, HUGGING_FACE_HUB_TOKEN: 'hf_reader' },
    });
    expect(old.files).toBe(1);
  });

  it('refuses an HF_ENDPOINT that is no http(s) URL', async () => {
    for (const endpoint of ['huggingface.co', 'ftp://mirror.example.com']) {
      const err = await failure('hf://acme/mlp/tfjs', { HF_ENDPOINT: endpoint });
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message).toContain(`HF_ENDPOINT "${endpoint}" is not an http(s) URL`);
    }
  });

  it('waits as long as a 429 says, then goes on', async () => {
    hub.rateLimit = { remaining: 1, retryAfter: 1 };
    const logs: string[] = [];
    const started = performance.now();
    const r = await fetchModel('hf://acme/mlp/tfjs/vocab', join(work, 'limited'), {
      env: env(),
      log: (l) => logs.push(l),
    });
    expect(r.files).toBe(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(logs[0]).toMatch(
      /rate limited by the Hub \(HTTP 429\); retry after 1 s.*retrying in 1000 ms/,
    );
  });

  it('refuses a file whose LFS sha256 differs from the listing, after retrying it', async () => {
    hub.corrupt.add('tfjs/group1-shard1of1.bin');
    const err = (await fetchModel('hf://acme/mlp/tfjs', join(work, 'corrupt'), {
      env: env(),
      retries: 1,
      backoffMs: 1,
    }).catch((x: unknown) => x)) as { code: string; message: string };
    expect(err.code).toBe('FETCH_CHECKSUM_MISMATCH');
    expect(err.message).toMatch(
      /the LFS sha256 of the download is [0-9a-f]{64} but the Hub lists [0-9a-f]{64}.*gave up after 2 attempts/,
    );
    await expect(readdir(join(work, 'corrupt'))).rejects.toThrow(/ENOENT/);
  });
});

describe('tensorfleet-runtime fetch (the init container) with hf://', () => {
  it('downloads with HF_TOKEN; without it, exits 1 with the reason the pod status shows', async () => {
    const dest = join(work, 'cli');
    const args = ['fetch', '--model-uri', 'hf://acme/gated/m', '--dest', dest];
    const denied = await runCli(args, {
      HF_ENDPOINT: hub.endpoint,
      HF_TOKEN: '',
      TENSORFLEET_RETRIES: '0',
    });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain(
      'tensorfleet-runtime: FETCH_UNAUTHORIZED: resolving revision "main" of acme/gated: Hugging Face repository acme/gated is gated: set HF_TOKEN',
    );
    const ok = await runCli(args, { HF_ENDPOINT: hub.endpoint, HF_TOKEN: 'hf_reader' });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ dest, files: 1 });
  }, 60_000);
});

describe('Hub protocol details', () => {
  it('reads rel="next" from a Link header', () => {
    expect(nextLink('<https://h/api/x?cursor=a>; rel="next"')).toBe('https://h/api/x?cursor=a');
    expect(nextLink('<https://h/p>; rel="prev", <https://h/n>; rel=next')).toBe('https://h/n');
    expect(nextLink(null)).toBeUndefined();
    expect(nextLink('<https://h/p>; rel="prev"')).toBeUndefined();
  });

  it('reads how long to wait from Retry-After (seconds or a date) or RateLimit', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterSeconds(new Headers({ 'retry-after': '7' }), now)).toBe(7);
    expect(
      retryAfterSeconds(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' }), now),
    ).toBe(30);
    expect(retryAfterSeconds(new Headers({ ratelimit: '"api";r=0;t=55' }), now)).toBe(55);
    expect(retryAfterSeconds(new Headers({}), now)).toBeUndefined();
  });
});
