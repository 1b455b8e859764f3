// oci:// sources against a real CNCF distribution registry on loopback:
// artifacts and images pushed over the distribution API, pulled by the
// runtime's own client; auth and tampering through a front server.

import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseServeConfig } from '../../../src/runtime/config.js';
import { RuntimeError } from '../../../src/runtime/errors.js';
import { fetchModel } from '../../../src/runtime/sources/fetch.js';
import { parseOciUri } from '../../../src/runtime/sources/oci-reference.js';
import { listVersions } from '../../../src/runtime/versions/base-path.js';
import type { Descriptor, Registry } from '../oci-registry.js';
import {
  OCI_INDEX,
  OCI_MANIFEST,
  freePort,
  pushBlob,
  pushFiles,
  pushImage,
  pushManifest,
  startFront,
  startRegistry,
} from '../oci-registry.js';
import { runCli } from '../process.js';

const TAR_GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';
const TAR = 'application/vnd.oci.image.layer.v1.tar';

let registry: Registry;
let work: string;
let n = 0;

/** A tar(.gz) made by the system `tar` of `files` (path -> content) under `root`, archiving `members`. */
async function tarOf(
  files: Record<string, string>,
  members: string[],
  gzip = true,
): Promise<Buffer> {
  const root = join(work, `tar-${n++}`);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return execFileSync('tar', [gzip ? '-czf' : '-cf', '-', '-C', root, ...members]);
}

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const path = join(e.parentPath, e.name);
      out[path.slice(dir.length + 1)] = await readFile(path, 'utf8');
    }
  }
  return out;
}

async function pull(
  uri: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ files: Record<string, string>; log: string[] }> {
  const dest = join(work, `dest-${n++}`);
  const log: string[] = [];
  await fetchModel(uri, dest, { env, retries: 0, log: (m) => log.push(m) });
  return { files: await tree(dest), log };
}

async function failure(uri: string, env: NodeJS.ProcessEnv = {}): Promise<RuntimeError> {
  const err = await pull(uri, env).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RuntimeError);
  return err as RuntimeError;
}

const MODEL = { 'model.json': '{"format":"layers-model"}', 'weights.bin': 'WEIGHTS' };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tensorfleet-oci-test-'));
  registry = await startRegistry();
  await pushFiles(registry, 'models/files', '1', {
    'model.json': Buffer.from(MODEL['model.json']),
    'weights.bin': Buffer.from(MODEL['weights.bin']),
  });
}, 600_000);

afterAll(async () => {
  await registry?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('oci:// layouts', () => {
  it('pulls an artifact of single files by tag, naming the manifest digest it resolved', async () => {
    const manifest = await fetch(`${registry.url}/v2/models/files/manifests/1`, {
      headers: { accept: OCI_MANIFEST },
    });
    const digest = manifest.headers.get('docker-content-digest');
    const { files, log } = await pull(`oci://${registry.host}/models/files:1`);
    expect(files).toEqual(MODEL);
    expect(log.join('\n')).toContain(`fetched oci://${registry.host}/models/files:1@${digest} to `);
  });

  it('pulls the same artifact by digest', async () => {
    const desc = await pushFiles(registry, 'models/files', 'pinned', {
      'model.json': Buffer.from('{}'),
    });
    const { files } = await pull(`oci://${registry.host}/models/files@${desc.digest}`);
    expect(files).toEqual({ 'model.json': '{}' });
  });

  it('unpacks a tar+gzip layer titled "<dir>/" into the model directory', async () => {
    const tgz = await tarOf({ 'model/model.json': 'M', 'model/shards/w1.bin': 'W1' }, ['model']);
    await pushImage(registry, 'models/dir', '1', [
      await pushBlob(registry, 'models/dir', tgz, TAR_GZ, {
        'org.opencontainers.image.title': 'model/',
      }),
      await pushBlob(registry, 'models/dir', Buffer.from('L'), 'text/plain', {
        'org.opencontainers.image.title': 'LICENSE',
      }),
    ]);
    const { files } = await pull(`oci://${registry.host}/models/dir:1`);
    expect(files).toEqual({ 'model.json': 'M', 'shards/w1.bin': 'W1', LICENSE: 'L' });
    // What `oras push <ref> model/` writes: the title without "/", and an unpack annotation.
    await pushImage(registry, 'models/dir', '2', [
      await pushBlob(registry, 'models/dir', tgz, TAR_GZ, {
        'org.opencontainers.image.title': 'model',
        'io.deis.oras.content.unpack': 'true',
      }),
    ]);
    expect((await pull(`oci://${registry.host}/models/dir:2`)).files).toEqual({
      'model.json': 'M',
      'shards/w1.bin': 'W1',
    });
  });

  it('pulls a modelcar image: /models across two layers, overrides and whiteouts applied', async () => {
    const lower = await tarOf(
      {
        'models/model.json': 'v1',
        'models/old.bin': 'OLD',
        'models/keep.bin': 'K',
        'etc/os-release': 'x',
      },
      ['models', 'etc'],
    );
    const upper = await tarOf(
      { 'models/model.json': 'v2', 'models/.wh.old.bin': '', 'models/sub/new.bin': 'N' },
      ['models'],
      false,
    );
    await pushImage(registry, 'models/car', '1', [
      await pushBlob(registry, 'models/car', lower, TAR_GZ),
      await pushBlob(registry, 'models/car', upper, TAR),
    ]);
    const { files } = await pull(`oci://${registry.host}/models/car:1`);
    expect(files).toEqual({ 'model.json': 'v2', 'keep.bin': 'K', 'sub/new.bin': 'N' });
  });

  it('refuses an image with nothing under /models', async () => {
    const layer = await tarOf({ 'app/model.json': '{}' }, ['app']);
    await pushImage(registry, 'models/nomodels', '1', [
      await pushBlob(registry, 'models/nomodels', layer, TAR_GZ),
    ]);
    const err = await failure(`oci://${registry.host}/models/nomodels:1`);
    expect(err.code).toBe('FETCH_NOT_FOUND');
    expect(err.message).toContain('the image has no files under /models');
  });

  it('picks linux/amd64 from an index, and names the platforms when it has none', async () => {
    const arm = await pushFiles(registry, 'models/multi', 'arm', {
      'model.json': Buffer.from('arm'),
    });
    const amd = await pushFiles(registry, 'models/multi', 'amd', {
      'model.json': Buffer.from('amd'),
    });
    const platform = (d: Descriptor, architecture: string): Descriptor => ({
      ...d,
      platform: { os: 'linux', architecture },
    });
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [platform(arm, 'arm64'), platform(amd, 'amd64')],
    };
    await pushManifest(registry, 'models/multi', '1', index, OCI_INDEX);
    expect((await pull(`oci://${registry.host}/models/multi:1`)).files).toEqual({
      'model.json': 'amd',
    });

    const armOnly = { ...index, manifests: [platform(arm, 'arm64'), platform(arm, 's390x')] };
    const desc = await pushManifest(registry, 'models/multi', '2', armOnly, OCI_INDEX);
    const err = await failure(`oci://${registry.host}/models/multi:2`);
    expect(err.code).toBe('FETCH_NOT_FOUND');
    expect(err.message).toContain(
      `the index ${desc.digest} has no linux/amd64 manifest (it lists linux/arm64, linux/s390x)`,
    );
  });
});

describe('oci:// failures', () => {
  it('names an unreachable registry', async () => {
    const port = await freePort();
    const err = await failure(`oci://127.0.0.1:${port}/m:1`);
    expect(err.code).toBe('FETCH_FAILED');
    expect(err.message).toContain(`request to http://127.0.0.1:${port} failed (ECONNREFUSED)`);
  });

  it('tells a missing repository from a missing tag or digest', async () => {
    const repo = await failure(`oci://${registry.host}/models/nothing:1`);
    expect(repo.code).toBe('FETCH_NOT_FOUND');
    expect(repo.message).toContain(
      `repository models/nothing not found on registry ${registry.host}`,
    );
    const tag = await failure(`oci://${registry.host}/models/files:9`);
    expect(tag.code).toBe('FETCH_NOT_FOUND');
    expect(tag.message).toContain(`tag 9 not found in repository ${registry.host}/models/files`);
    const digest = `sha256:${'0'.repeat(64)}`;
    const missing = await failure(`oci://${registry.host}/models/files@${digest}`);
    expect(missing.message).toContain(`manifest ${digest} not found`);
  });

  it('checks the manifest and every blob against their digests', async () => {
    const flip = (b: Buffer): Buffer =>
      Buffer.from(b.map((x, i) => (i === b.length - 1 ? x ^ 1 : x)));
    const blobs = await startFront(registry, {
      tamper: (path, body) => (path.includes('/blobs/') ? flip(body) : body),
    });
    const blob = await failure(`oci://${blobs.host}/models/files:1`);
    expect(blob.code).toBe('FETCH_CHECKSUM_MISMATCH');
    expect(blob.message).toMatch(
      /blob sha256:[0-9a-f]{64} of .*: the download's digest is sha256:/,
    );
    await blobs.stop();

    const desc = await pushFiles(registry, 'models/files', 'd', {
      'model.json': Buffer.from('{}'),
    });
    const manifests = await startFront(registry, {
      tamper: (path, body) =>
        path.includes('/manifests/')
          ? Buffer.from(body.toString().replace('model.json', 'other.json'))
          : body,
    });
    const manifest = await failure(`oci://${manifests.host}/models/files@${desc.digest}`);
    expect(manifest.code).toBe('FETCH_CHECKSUM_MISMATCH');
    expect(manifest.message).toContain(`not ${desc.digest}`);
    await manifests.stop();
  });

  it('refuses an unsupported manifest media type', async () => {
    const front = await startFront(registry, {
      tamper: (path, body, headers) => {
        if (!path.includes('/manifests/')) return body;
        headers.set('content-type', 'application/vnd.docker.distribution.manifest.v1+prettyjws');
        headers.delete('docker-content-digest');
        const json = JSON.parse(body.toString()) as Record<string, unknown>;
        delete json['mediaType'];
        return Buffer.from(JSON.stringify(json));
      },
    });
    const err = await failure(`oci://${front.host}/models/files:1`);
    expect(err.code).toBe('FETCH_FAILED');
    expect(err.message).toContain(
      'unsupported manifest media type "application/vnd.docker.distribution.manifest.v1+prettyjws"',
    );
    await front.stop();
  });

  it('refuses malformed references as CONFIG_INVALID', () => {
    for (const [uri, why] of [
      ['oci://registry.example', 'names no registry and repository'],
      ['oci://registry.example/Models/m:1', 'invalid repository "Models/m"'],
      ['oci://registry.example/m', 'names neither a tag nor a digest'],
      ['oci://registry.example/m:bad/tag', 'invalid tag "bad/tag"'],
      ['oci://registry.example/m@sha256:abc', 'invalid digest "sha256:abc"'],
      ['oci://registry.example/m:-x', 'invalid tag "-x"'],
    ] as const) {
      expect(() => parseOciUri(uri), uri).toThrow(why);
    }
    expect(parseOciUri('oci://docker.io/busybox:1')).toEqual({
      registry: 'docker.io',
      repository: 'library/busybox',
      tag: '1',
      digest: undefined,
    });
  });

  it('refuses oci:// as a base path of versions', async () => {
    const base = `oci://${registry.host}/models/files:1`;
    expect(() => parseServeConfig(['--model-name', 'm', '--model-base-path', base], {})).toThrow(
      `${base}: oci:// cannot be a base path of version directories; give it as --model-uri (a new tag or digest is a new version that rolls out)`,
    );
    // Model config files name base paths too: the listing refuses them the same way.
    await expect(listVersions(base)).rejects.toThrow(
      'oci:// cannot be a base path of version directories',
    );
  });
});

describe('oci:// auth', () => {
  async function authFile(user: string, pass: string, host: string): Promise<string> {
    const file = join(work, `auth-${n++}.json`);
    const auth = Buffer.from(`${user}:${pass}`).toString('base64');
    await writeFile(file, JSON.stringify({ auths: { [host]: { auth } } }));
    return file;
  }

  it('follows the Bearer token flow with the docker config credentials', async () => {
    const front = await startFront(registry, {
      auth: { scheme: 'bearer', username: 'u', password: 'p' },
    });
    const uri = `oci://${front.host}/models/files:1`;
    const good = await authFile('u', 'p', front.host);
    expect((await pull(uri, { TENSORFLEET_OCI_AUTH_FILE: good })).files).toEqual(MODEL);
    expect(front.tokenRequests.at(-1)).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);

    const none = await failure(uri);
    expect(none.code).toBe('FETCH_UNAUTHORIZED');
    expect(none.message).toContain('access denied (HTTP 401); no credentials were sent');

    const bad = await authFile('u', 'wrong', front.host);
    const denied = await failure(uri, { TENSORFLEET_OCI_AUTH_FILE: bad });
    expect(denied.code).toBe('FETCH_UNAUTHORIZED');
    expect(denied.message).toContain(
      `getting a registry token from http://${front.host}/token: access denied (HTTP 401); the credentials of ${bad} for ${front.host} were sent`,
    );
    await front.stop();
  });

  it('answers a Basic challenge from $DOCKER_CONFIG/config.json', async () => {
    const front = await startFront(registry, {
      auth: { scheme: 'basic', username: 'u', password: 'p' },
    });
    const dir = join(work, `docker-${n++}`);
    await mkdir(dir);
    const uri = `oci://${front.host}/models/files:1`;
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ auths: { [`http://${front.host}/v2/`]: { username: 'u', password: 'p' } } }),
    );
    expect((await pull(uri, { DOCKER_CONFIG: dir })).files).toEqual(MODEL);
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ auths: { [front.host]: { auth: Buffer.from('u:x').toString('base64') } } }),
    );
    const err = await failure(uri, { DOCKER_CONFIG: dir });
    expect(err.code).toBe('FETCH_UNAUTHORIZED');
    expect(err.message).toContain(
      `the credentials of ${join(dir, 'config.json')} for ${front.host} were sent`,
    );
    await front.stop();
  });
});

describe('tensorfleet-runtime fetch', () => {
  it('fetches oci:// and reports a failure on the line the operator reads', async () => {
    const dest = join(work, `cli-${n++}`);
    const ok = await runCli([
      'fetch',
      '--model-uri',
      `oci://${registry.host}/models/files:1`,
      '--dest',
      dest,
    ]);
    expect(ok.code).toBe(0);
    expect(await tree(dest)).toEqual(MODEL);
    const missing = await runCli([
      'fetch',
      '--model-uri',
      `oci://${registry.host}/models/files:404`,
      '--dest',
      dest,
    ]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(
      `tensorfleet-runtime: FETCH_NOT_FOUND: tag 404 not found in repository ${registry.host}/models/files (HTTP 404 MANIFEST_UNKNOWN)`,
    );
  });
});
