// gs:// sources through @google-cloud/storage against fake-gcs-server on
// loopback. Each kind of credential Application Default Credentials knows gets
// its token from a real exchange with a loopback token endpoint, the emulator
// checks the token it is sent, and each failure's message is checked word for
// word (it is what the runtime's not-ready status and ModelLoadFailed show).

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fetchModel } from '../../../src/runtime/sources/fetch.js';
import { GcsSource } from '../../../src/runtime/sources/gs.js';
import type { Fixtures } from '../helpers.js';
import { makeFixtures } from '../helpers.js';
import { runCli } from '../process.js';
import type { GcsEmulator } from './emulator.js';
import { startGcsEmulator } from './emulator.js';
import { startGoogleApisProxy } from './google-apis-proxy.js';
import type { TokenServer } from './token-servers.js';
import {
  jwtBearerEndpoint,
  serviceAccountKey,
  startMetadataServer,
  startSts,
} from './token-servers.js';
import { startTamperingForwarder } from './tampering-forwarder.js';

let fx: Fixtures;
let work: string;
let gcs: GcsEmulator;
const servers: { stop(): Promise<void> }[] = [];
/** 40 MiB of random bytes at gs://models/large/weights.bin. */
let large: Buffer;

beforeAll(async () => {
  fx = await makeFixtures();
  work = join(fx.root, 'gcs-work');
  await mkdir(work, { recursive: true });
  gcs = await startGcsEmulator({
    tokens: ['sa-token', 'metadata-token', 'federated-token', 'static-token'],
    deniedTokens: ['denied-token'],
    publicBuckets: ['public-models'],
    maxResults: 1,
  });
  servers.push(gcs);
  for (const bucket of ['models', 'public-models']) {
    await gcs.createBucket(bucket);
    await gcs.putTree(bucket, fx.mlpGraph, 'mlp/');
  }
  large = randomBytes(40 * 2 ** 20);
  await gcs.put('models', 'large/weights.bin', large);
  // ADC looks for gcloud's application_default_credentials.json under
  // CLOUDSDK_CONFIG: an empty one, whatever this machine has.
  vi.stubEnv('CLOUDSDK_CONFIG', join(work, 'gcloud'));
  vi.stubEnv('GOOGLE_APPLICATION_CREDENTIALS', '');
}, 120_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.all(servers.map((s) => s.stop()));
  await fx?.cleanup();
});

async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

let n = 0;
function dest(): string {
  return join(work, `dest-${++n}`);
}

/** Where the emulator's request log is now, for authSince. */
async function mark(): Promise<number> {
  await gcs.sync();
  return gcs.requests.length;
}

/** The Authorization headers (spaces as "_") the emulator saw since request `from`. */
async function authSince(from: number): Promise<string[]> {
  await gcs.sync();
  return [...new Set(gcs.requests.slice(from).map((r) => r.split(' ')[2] ?? ''))];
}

async function writeJson(name: string, value: object): Promise<string> {
  const path = join(work, name);
  await writeFile(path, JSON.stringify(value));
  return path;
}

async function started<S extends TokenServer>(server: Promise<S>): Promise<S> {
  const s = await server;
  servers.push(s);
  return s;
}

const MLP_FILES = ['group1-shard1of1.bin', 'model.json'];

describe('gs:// credentials (Application Default Credentials)', () => {
  const endpoint = (): NodeJS.ProcessEnv => ({ TENSORFLEET_GCS_ENDPOINT: gcs.endpoint });

  it('an access token in TENSORFLEET_GCS_TOKEN: lists across pages and downloads the model', async () => {
    const from = await mark();
    const to = dest();
    const result = await fetchModel('gs://models/mlp', to, {
      env: { ...endpoint(), TENSORFLEET_GCS_TOKEN: 'static-token' },
    });
    expect(result.files).toBe(2);
    expect(await listDir(to)).toEqual(MLP_FILES);
    for (const file of MLP_FILES) {
      expect(await readFile(join(to, file))).toEqual(await readFile(join(fx.mlpGraph, file)));
    }
    expect(await authSince(from)).toEqual(['Bearer_static-token']);
    // maxResults 1: the second file comes from the second page.
    expect(gcs.requests.slice(from).filter((r) => r.includes('pageToken='))).toHaveLength(1);
  });

  it('a large file arrives whole (the SDK checks its CRC32C)', async () => {
    const to = dest();
    const result = await fetchModel('gs://models/large', to, {
      env: { ...endpoint(), TENSORFLEET_GCS_TOKEN: 'static-token' },
    });
    expect(result).toMatchObject({ files: 1, bytes: large.length });
    const got = await readFile(join(to, 'weights.bin'));
    expect(createHash('sha256').update(got).digest('hex')).toBe(
      createHash('sha256').update(large).digest('hex'),
    );
  }, 60_000);

  it('an external_account file (workload identity federation): the subject token is exchanged at the STS', async () => {
    const audience =
      '//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/eks/providers/oidc';
    const sts = await started(
      startSts({ subjectToken: 'oidc-jwt-of-the-pod', audience, token: 'federated-token' }),
    );
    const subjectFile = join(work, 'subject-token');
    await writeFile(subjectFile, 'oidc-jwt-of-the-pod');
    const config = (aud: string): object => ({
      type: 'external_account',
      audience: aud,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: `${sts.url}/v1/token`,
      credential_source: { file: subjectFile },
    });
    const file = (aud: string): Promise<string> =>
      writeJson(`external-${aud.length}.json`, config(aud));
    const from = await mark();
    const result = await fetchModel('gs://models/mlp', dest(), {
      env: { ...endpoint(), GOOGLE_APPLICATION_CREDENTIALS: await file(audience) },
    });
    expect(result.files).toBe(2);
    expect(sts.requests).toEqual(['POST /v1/token']);
    expect(await authSince(from)).toEqual(['Bearer_federated-token']);

    // The same JSON inline, as a credentialsSecret key becomes the init container's environment.
    const inline = await fetchModel('gs://models/mlp', dest(), {
      env: { ...endpoint(), GOOGLE_APPLICATION_CREDENTIALS_JSON: JSON.stringify(config(audience)) },
    });
    expect(inline.files).toBe(2);
    expect(sts.requests).toEqual(['POST /v1/token', 'POST /v1/token']);

    // The STS refuses a pool it does not know: the reason is the STS's.
    const wrong = await file(`${audience}-other`);
    await expect(
      fetchModel('gs://models/mlp', dest(), {
        retries: 0,
        env: { ...endpoint(), GOOGLE_APPLICATION_CREDENTIALS: wrong },
      }),
    ).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: `listing gs://models/mlp: getting an access token from ${sts.url}/v1/token (GOOGLE_APPLICATION_CREDENTIALS ${wrong}) failed: HTTP 400: invalid_target: The target service indicated by the "audience" parameters is invalid.`,
    });
  });

  it('the metadata server (GCE, GKE Workload Identity), at GCE_METADATA_HOST on loopback', async () => {
    const metadata = await started(startMetadataServer({ token: 'metadata-token' }));
    vi.stubEnv('GCE_METADATA_HOST', new URL(metadata.url).host);
    vi.stubEnv('METADATA_SERVER_DETECTION', 'ping-only');
    try {
      const from = await mark();
      const result = await fetchModel('gs://models/mlp', dest(), { env: endpoint() });
      expect(result.files).toBe(2);
      expect(await authSince(from)).toEqual(['Bearer_metadata-token']);
      expect(metadata.requests).toContain(
        'GET /computeMetadata/v1/instance/service-accounts/default/token?scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fdevstorage.read_only',
      );
    } finally {
      vi.stubEnv('GCE_METADATA_HOST', '');
      vi.stubEnv('METADATA_SERVER_DETECTION', 'none');
    }
  });

  it('no credentials anywhere: anonymous, which a public bucket allows and a private one refuses', async () => {
    const from = await mark();
    const result = await fetchModel('gs://public-models/mlp', dest(), { env: endpoint() });
    expect(result.files).toBe(2);
    expect(await authSince(from)).toEqual(['-']);
    await expect(
      fetchModel('gs://models/mlp', dest(), { retries: 0, env: endpoint() }),
    ).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message:
        'listing gs://models/mlp: access denied (HTTP 401); no credentials found (no GOOGLE_APPLICATION_CREDENTIALS, no gcloud application_default_credentials.json, no metadata server), so the request went without any and the bucket is not public',
    });
  });

  it('STORAGE_EMULATOR_HOST (host:port): an emulator, sent no credentials', async () => {
    const from = await mark();
    const result = await fetchModel('gs://public-models/mlp', dest(), {
      env: {
        STORAGE_EMULATOR_HOST: new URL(gcs.endpoint).host,
        TENSORFLEET_GCS_TOKEN: 'static-token',
      },
    });
    expect(result.files).toBe(2);
    expect(await authSince(from)).toEqual(['-']);
  });
});

describe('gs:// failures, each with its reason', () => {
  const withToken = (token: string): NodeJS.ProcessEnv => ({
    TENSORFLEET_GCS_ENDPOINT: gcs.endpoint,
    TENSORFLEET_GCS_TOKEN: token,
  });
  const fails = (uri: string, env: NodeJS.ProcessEnv): Promise<unknown> =>
    fetchModel(uri, dest(), { retries: 0, env });

  it('an expired or revoked token: 401', async () => {
    await expect(fails('gs://models/mlp', withToken('expired-token'))).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message:
        'listing gs://models/mlp: access denied (HTTP 401); check the credentials: Invalid Credentials (credentials: the access token in TENSORFLEET_GCS_TOKEN)',
    });
  });

  it('a token without access to the bucket: 403', async () => {
    await expect(fails('gs://models/mlp', withToken('denied-token'))).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message:
        'listing gs://models/mlp: access denied (HTTP 403); check the credentials: caller does not have storage.objects.get access to the Google Cloud Storage bucket models. Permission denied on resource (or it may not exist). (credentials: the access token in TENSORFLEET_GCS_TOKEN)',
    });
  });

  it('a missing bucket, a prefix with no objects, an object gone after the listing', async () => {
    await expect(fails('gs://no-such-bucket/mlp', withToken('static-token'))).rejects.toMatchObject(
      {
        code: 'FETCH_NOT_FOUND',
        message:
          'listing gs://no-such-bucket/mlp not found (HTTP 404): bucket "no-such-bucket" does not exist',
      },
    );
    await expect(fails('gs://models/nope', withToken('static-token'))).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message:
        'gs://models/nope not found (HTTP 404): no objects under prefix "nope/" in bucket "models"',
    });
    await gcs.put('models', 'gone/model.json', '{}');
    const source = new GcsSource('gs://models/gone', withToken('static-token'));
    const [file] = await source.list();
    await gcs.remove('models', 'gone/model.json');
    await expect(source.download(file!, join(work, 'gone.json'))).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: 'gs://models/gone/model.json not found (HTTP 404): Not Found',
    });
  });

  it('a corrupt body: the SDK checks the CRC32C; retried, then the reason', async () => {
    const tamper = await started(startTamperingForwarder(gcs.endpoint, 'corrupt'));
    const env = { TENSORFLEET_GCS_ENDPOINT: tamper.url, TENSORFLEET_GCS_TOKEN: 'static-token' };
    await expect(
      fetchModel('gs://models/mlp', dest(), { retries: 1, backoffMs: 1, env }),
    ).rejects.toMatchObject({
      code: 'FETCH_SIZE_MISMATCH',
      message:
        "gs://models/mlp/group1-shard1of1.bin: the downloaded bytes do not match the object's checksum (a corrupt transfer) (gave up after 2 attempts)",
    });
  });

  it('a body cut short: the SDK does not notice, the stall watchdog does', async () => {
    const tamper = await started(startTamperingForwarder(gcs.endpoint, 'truncate'));
    const env = { TENSORFLEET_GCS_ENDPOINT: tamper.url, TENSORFLEET_GCS_TOKEN: 'static-token' };
    const half = (await readFile(join(fx.mlpGraph, 'group1-shard1of1.bin'))).length >> 1;
    await expect(
      fetchModel('gs://models/mlp', dest(), { retries: 1, backoffMs: 1, stallMs: 500, env }),
    ).rejects.toMatchObject({
      code: 'FETCH_FAILED',
      message: `downloading group1-shard1of1.bin: stalled: no data for 0.5 s after ${half} bytes (gave up after 2 attempts)`,
    });
  });

  it('an endpoint nothing listens on: a transient network failure, retried, then the reason', async () => {
    const env = { TENSORFLEET_GCS_ENDPOINT: 'http://127.0.0.1:9', TENSORFLEET_GCS_TOKEN: 'x' };
    await expect(
      fetchModel('gs://models/mlp', dest(), { retries: 1, backoffMs: 1, env }),
    ).rejects.toMatchObject({
      code: 'FETCH_FAILED',
      message:
        'listing gs://models/mlp: request to http://127.0.0.1:9 failed (ECONNREFUSED) (gave up after 2 attempts)',
    });
  });

  it('credentials that are missing, not JSON, or of no known type', async () => {
    const env = (file: string): NodeJS.ProcessEnv => ({
      TENSORFLEET_GCS_ENDPOINT: gcs.endpoint,
      GOOGLE_APPLICATION_CREDENTIALS: file,
    });
    const missing = join(work, 'no-such-key.json');
    await expect(fails('gs://models/mlp', env(missing))).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: `GOOGLE_APPLICATION_CREDENTIALS ${missing} cannot be read: ENOENT: no such file or directory, open '${missing}'`,
    });
    const notJson = join(work, 'not-json.json');
    await writeFile(notJson, '{"type": service_account}');
    await expect(fails('gs://models/mlp', env(notJson))).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: expect.stringMatching(
        new RegExp(`^GOOGLE_APPLICATION_CREDENTIALS ${notJson} is not JSON: `),
      ) as unknown,
    });
    await expect(
      fails('gs://models/mlp', {
        TENSORFLEET_GCS_ENDPOINT: gcs.endpoint,
        GOOGLE_APPLICATION_CREDENTIALS_JSON: 'type: service_account',
      }),
    ).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: expect.stringMatching(
        /^GOOGLE_APPLICATION_CREDENTIALS_JSON is not JSON: /,
      ) as unknown,
    });
    const untyped = await writeJson('untyped.json', { client_email: 'x@y' });
    await expect(fails('gs://models/mlp', env(untyped))).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: `GOOGLE_APPLICATION_CREDENTIALS ${untyped} has no "type" (service_account, external_account, authorized_user, ...)`,
    });
  });
});

describe('tensorfleet-runtime fetch with a service-account key file', () => {
  // Google's Node.js auth library posts a key's signed JWT to
  // https://www.googleapis.com/oauth2/v4/token whatever the key's token_uri
  // says; the runtime, as an init container would, reaches it through
  // HTTPS_PROXY, here a loopback proxy that serves that host itself.
  it('exchanges the key for a token; a key the endpoint does not know and a token without access fail with their reasons', async () => {
    const sa = serviceAccountKey();
    const stranger = serviceAccountKey();
    const tokens = { current: 'sa-token' };
    const proxy = await startGoogleApisProxy(join(work, 'pki'), {
      'www.googleapis.com': jwtBearerEndpoint({
        audience: 'https://www.googleapis.com/oauth2/v4/token',
        publicKey: () => sa.publicKey,
        get token() {
          return tokens.current;
        },
      }),
    });
    servers.push(proxy);
    const run = async (key: typeof sa, out: string): ReturnType<typeof runCli> =>
      runCli(['fetch', '--model-uri', 'gs://models/mlp', '--dest', join(work, out)], {
        HTTPS_PROXY: proxy.url,
        NO_PROXY: '127.0.0.1',
        NODE_EXTRA_CA_CERTS: proxy.caFile,
        METADATA_SERVER_DETECTION: 'none',
        CLOUDSDK_CONFIG: join(work, 'gcloud'),
        TENSORFLEET_GCS_ENDPOINT: gcs.endpoint,
        GOOGLE_APPLICATION_CREDENTIALS: await writeJson(
          `${out}.json`,
          key.file('https://oauth2.googleapis.com/token'),
        ),
      });

    const from = await mark();
    const ok = await run(sa, 'cli-sa');
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ files: 2 });
    expect(proxy.requests).toEqual(['CONNECT www.googleapis.com:443', 'POST /oauth2/v4/token']);
    expect(await authSince(from)).toEqual(['Bearer_sa-token']);

    const unknown = await run(stranger, 'cli-stranger');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(
      `tensorfleet-runtime: FETCH_UNAUTHORIZED: listing gs://models/mlp: getting an access token from https://www.googleapis.com/oauth2/v4/token (GOOGLE_APPLICATION_CREDENTIALS ${join(work, 'cli-stranger.json')}) failed: HTTP 400: invalid_grant: Invalid JWT Signature.`,
    );

    tokens.current = 'denied-token';
    const denied = await run(sa, 'cli-denied');
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain(
      `tensorfleet-runtime: FETCH_UNAUTHORIZED: listing gs://models/mlp: access denied (HTTP 403); check the credentials: caller does not have storage.objects.get access to the Google Cloud Storage bucket models. Permission denied on resource (or it may not exist). (credentials: GOOGLE_APPLICATION_CREDENTIALS ${join(work, 'cli-denied.json')})`,
    );
  }, 60_000);
});

describe('loading the SDK', () => {
  // A resolve hook that refuses Google's packages: a fetch that does not fail
  // never imported them.
  const REFUSE = fileURLToPath(new URL('./refuse-google-sdk.ts', import.meta.url));

  it('happens only for gs:// URIs', async () => {
    const local = await runCli(
      ['fetch', '--model-uri', pathToFileURL(fx.mlpGraph).href, '--dest', join(work, 'cli-local')],
      {},
      ['--import', REFUSE],
    );
    expect(local.code, local.stderr).toBe(0);
    const gs = await runCli(
      ['fetch', '--model-uri', 'gs://models/mlp', '--dest', join(work, 'cli-gs-refused')],
      { TENSORFLEET_GCS_ENDPOINT: gcs.endpoint, TENSORFLEET_GCS_TOKEN: 'static-token' },
      ['--import', REFUSE],
    );
    expect(gs.code).toBe(1);
    expect(gs.stderr).toContain(
      'tensorfleet-runtime: FETCH_FAILED: listing gs://models/mlp: refused to load @google-cloud/storage',
    );
  }, 60_000);
});
