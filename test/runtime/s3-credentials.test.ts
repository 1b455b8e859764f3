// The s3:// source's credentials come from the AWS SDK's default Node chain.
// Each case runs `tensorfleet-runtime fetch` in a child process (the chain
// reads the process environment) against moto on loopback, which checks the
// signatures, keys, session tokens and policies of each GetObject (it rejects
// any signature of these listings, s3-server.ts, so the listing is let through
// unchecked and proves nothing about credentials); the chain's other ends are
// loopback servers of this file (the EKS Pod Identity agent, IMDSv2). No case
// lets the SDK reach a cloud endpoint: the metadata service is disabled or on
// loopback, and the shared config files are the test's own.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { podFailure } from '../../src/operator/status/pod-failures.js';
import { testBackend } from './native.js';
import { runCli, startProcess } from './process.js';
import { regionalFront } from './s3-region-front.js';
import type { AwsKeys, S3Server } from './s3-server.js';
import { READER_ROLE_ARN, startS3 } from './s3-server.js';

let dir: string;
let secured: S3Server;
let open: S3Server;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-s3-creds-'));
  const model = join(dir, 'model');
  await mkdir(model);
  await writeFile(join(model, 'model.json'), '{"format":"graph-model"}');
  await writeFile(join(model, 'group1-shard1of1.bin'), Buffer.alloc(4096, 7));
  [secured, open] = await Promise.all([
    startS3({ auth: true, bucket: 'models', prefix: 'm/1/', modelDir: model }),
    startS3({ auth: false, bucket: 'public', prefix: 'm/1/', modelDir: model, publicRead: true }),
  ]);
}, 90_000);
afterAll(async () => {
  await Promise.all([secured?.stop(), open?.stop()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/**
 * Every variable the chain reads, unset (a child process gets no undefined
 * variable) or pointed at this test's own files.
 */
function isolated(): NodeJS.ProcessEnv {
  return {
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_ROLE_ARN: undefined,
    AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
    AWS_CONTAINER_AUTHORIZATION_TOKEN: undefined,
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: undefined,
    AWS_CONFIG_FILE: join(dir, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_EC2_METADATA_SERVICE_ENDPOINT: undefined,
    AWS_ENDPOINT_URL: undefined,
    AWS_ENDPOINT_URL_S3: undefined,
    AWS_ENDPOINT_URL_STS: undefined,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: undefined,
  };
}

let runs = 0;
/** `tensorfleet-runtime fetch` of s3://<bucket>/m/1 from `server` with `env` over the isolated one. */
async function fetchFrom(
  server: S3Server,
  env: NodeJS.ProcessEnv,
  bucket = 'models',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dest = join(dir, `dest-${runs++}`);
  // The listing, and before it the one unsigned STS call of a web identity.
  if (server === secured) await server.skipAuth(env['AWS_WEB_IDENTITY_TOKEN_FILE'] ? 2 : 1);
  return runCli(['fetch', '--model-uri', `s3://${bucket}/m/1`, '--dest', dest, '--retries', '0'], {
    ...isolated(),
    TENSORFLEET_S3_ENDPOINT: server.endpoint,
    ...env,
  });
}

function expectFetched(res: { code: number | null; stdout: string; stderr: string }): void {
  expect(res.code, res.stderr).toBe(0);
  expect(JSON.parse(res.stdout)).toMatchObject({ files: 2, bytes: 4096 + 24 });
}

/** A loopback HTTP server answering with `handle`; its URL and the requests it saw. */
async function loopback(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; seen: IncomingMessage[]; close: () => Promise<void> }> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    handle(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Credentials as the Pod Identity agent and IMDS serve them. */
function served(keys: AwsKeys): string {
  return JSON.stringify({
    Code: 'Success',
    Type: 'AWS-HMAC',
    AccessKeyId: keys.accessKeyId,
    SecretAccessKey: keys.secretAccessKey,
    Token: keys.sessionToken,
    Expiration: new Date(Date.now() + 3600_000).toISOString(),
    LastUpdated: new Date().toISOString(),
  });
}

describe('the AWS SDK default credential chain (tensorfleet-runtime fetch, moto on loopback)', () => {
  it('uses keys from the environment', async () => {
    expectFetched(
      await fetchFrom(secured, {
        AWS_ACCESS_KEY_ID: secured.accessKeyId,
        AWS_SECRET_ACCESS_KEY: secured.secretAccessKey,
      }),
    );
  }, 60_000);

  it('assumes the role of a web identity token file, as IRSA sets it up', async () => {
    const tokenFile = join(dir, 'web-identity-token');
    await writeFile(
      tokenFile,
      'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2ln',
    );
    // AssumeRoleWithWebIdentity is a real call to moto's STS; the role's session
    // keys and token then sign the GetObjects, and moto checks them.
    expectFetched(
      await fetchFrom(secured, {
        AWS_ROLE_ARN: READER_ROLE_ARN,
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_SESSION_NAME: 'tensorfleet-test',
        AWS_ENDPOINT_URL_STS: secured.endpoint,
      }),
    );
  }, 60_000);

  it('gets credentials from the container endpoint with the token file, as EKS Pod Identity serves them', async () => {
    const tokenFile = join(dir, 'eks-pod-identity-token');
    const token = 'pod-identity-token-1';
    await writeFile(tokenFile, token);
    const agent = await loopback((req, res) => {
      if (req.headers.authorization !== token) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"Code":"InvalidToken","Message":"the service account token is not valid"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(served(secured.session));
    });
    try {
      const env = {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${agent.url}/v1/credentials`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
      };
      expectFetched(await fetchFrom(secured, env));
      expect(agent.seen.map((r) => [r.method, r.url])).toContainEqual(['GET', '/v1/credentials']);

      // The agent refuses the token: the source that failed, not anonymous access.
      await writeFile(tokenFile, 'pod-identity-token-revoked');
      const res = await fetchFrom(secured, env);
      expect(res.code, res.stderr).toBe(1);
      expect(res.stderr).toContain(
        `tensorfleet-runtime: FETCH_UNAUTHORIZED: listing s3://models/m/1: could not get AWS credentials from the AWS SDK's default credential chain (configured: container credentials endpoint ${agent.url}/v1/credentials)`,
      );
      expect(res.stderr).toContain(
        ': CredentialsProviderError: Could not load credentials from any providers',
      );
      expect(agent.seen.map((r) => r.headers.authorization)).toContain(
        'pod-identity-token-revoked',
      );
    } finally {
      await agent.close();
    }
  }, 60_000);

  it('reads a named profile of a shared credentials file (AWS_PROFILE)', async () => {
    const file = join(dir, 'credentials');
    await writeFile(
      file,
      `[default]\naws_access_key_id = AKIADEFAULTNOTUSED00\naws_secret_access_key = nope\n\n[tensorfleet]\naws_access_key_id = ${secured.accessKeyId}\naws_secret_access_key = ${secured.secretAccessKey}\n`,
    );
    expectFetched(
      await fetchFrom(secured, { AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'tensorfleet' }),
    );
  }, 60_000);

  it('gets credentials from IMDSv2 (a session token first, then the role credentials)', async () => {
    const token = 'imds-session-token';
    const imds = await loopback((req, res) => {
      if (req.method === 'PUT' && req.url === '/latest/api/token') {
        res.end(token);
      } else if (req.headers['x-aws-ec2-metadata-token'] !== token) {
        res.writeHead(401).end();
      } else if (req.url === '/latest/meta-data/iam/security-credentials/') {
        res.end('tensorfleet-node');
      } else if (req.url === '/latest/meta-data/iam/security-credentials/tensorfleet-node') {
        res.end(served(secured.session));
      } else {
        res.writeHead(404).end();
      }
    });
    try {
      expectFetched(
        await fetchFrom(secured, {
          AWS_EC2_METADATA_DISABLED: '',
          AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url,
        }),
      );
      expect(imds.seen.map((r) => `${r.method} ${r.url}`).slice(0, 3)).toEqual([
        'PUT /latest/api/token',
        'GET /latest/meta-data/iam/security-credentials/',
        'GET /latest/meta-data/iam/security-credentials/tensorfleet-node',
      ]);
      expect(imds.seen[0]?.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBeDefined();
    } finally {
      await imds.close();
    }
  }, 60_000);

  it('reads a public bucket anonymously when the chain finds no credentials', async () => {
    expectFetched(await fetchFrom(open, {}, 'public'));
    // A private one refuses, and the error says the request was anonymous.
    const res = await fetchFrom(secured, {});
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /tensorfleet-runtime: FETCH_UNAUTHORIZED: s3:\/\/models\/m\/1\/\S+ part 1 of 1 \(bytes 0-\d+\): access denied \(HTTP 403\); check the credentials: .* \(the request was anonymous: the AWS SDK's default credential chain found no credentials\)\n/,
    );
  }, 60_000);
});

describe('the region (tensorfleet-runtime fetch, a bucket in eu-west-1 in front of moto)', () => {
  it('comes from AWS_DEFAULT_REGION, else from the profile in the shared config file', async () => {
    const front = await regionalFront(open.endpoint, 'eu-west-1', false);
    const config = join(dir, 'config');
    await writeFile(config, '[profile tensorfleet]\nregion = eu-west-1\n');
    const keys = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };
    try {
      const over = { TENSORFLEET_S3_ENDPOINT: front.endpoint, AWS_REGION: undefined };
      expectFetched(
        await fetchFrom(open, { ...over, ...keys, AWS_DEFAULT_REGION: 'eu-west-1' }, 'public'),
      );
      // Keys in a profile, as AWS_PROFILE makes the chain skip environment keys.
      const credentials = join(dir, 'credentials-region');
      await writeFile(
        credentials,
        `[tensorfleet]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n`,
      );
      expectFetched(
        await fetchFrom(
          open,
          {
            ...over,
            AWS_PROFILE: 'tensorfleet',
            AWS_CONFIG_FILE: config,
            AWS_SHARED_CREDENTIALS_FILE: credentials,
          },
          'public',
        ),
      );
      // Every request was signed for eu-west-1 at once: no redirect was needed.
      expect(front.regions.length).toBeGreaterThanOrEqual(6);
      expect(new Set(front.regions)).toEqual(new Set(['eu-west-1']));
    } finally {
      await front.close();
    }
  }, 60_000);
});

describe('an s3 failure, as the runtime and the operator report it', () => {
  it('is the not-ready status of a followed base path, with the S3 reason', async () => {
    const p = await startProcess(
      ['--model-name', 'm', '--model-base-path', 's3://models/m', '--backend', testBackend()],
      {
        ...isolated(),
        TENSORFLEET_S3_ENDPOINT: secured.endpoint,
        AWS_ACCESS_KEY_ID: 'AKIANOTAREALKEY00000',
        AWS_SECRET_ACCESS_KEY: 'secret',
      },
    );
    try {
      // Until the first listing is done, no version has been found yet (404).
      const deadline = Date.now() + 30_000;
      let res: Response;
      let body: string;
      do {
        await new Promise((r) => setTimeout(r, 200));
        res = await fetch(`http://127.0.0.1:${p.port}/v1/models/m`);
        body = await res.text();
      } while (!body.includes('InvalidAccessKeyId') && Date.now() < deadline);
      // The base path's listing error, under its code's status (FETCH_UNAUTHORIZED: 403).
      expect(res.status).toBe(403);
      expect(JSON.parse(body)).toEqual({
        error:
          'listing s3://models/m/: access denied (HTTP 403); check the credentials: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.',
      });
    } finally {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  }, 60_000);

  it('is the ModelLoadFailed message of the pod whose fetch init container failed', async () => {
    const res = await fetchFrom(secured, {
      AWS_ACCESS_KEY_ID: secured.denied.accessKeyId,
      AWS_SECRET_ACCESS_KEY: secured.denied.secretAccessKey,
    });
    expect(res.code).toBe(1);
    // FallbackToLogsOnError: the container's last log lines are its termination message.
    const pod: V1Pod = {
      metadata: { name: 'm-0' },
      status: {
        initContainerStatuses: [
          {
            name: 'fetch',
            image: 'runtime',
            imageID: '',
            ready: false,
            restartCount: 1,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: { terminated: { exitCode: 1, message: res.stderr } },
          },
        ],
      },
    };
    expect(podFailure(pod)).toMatchObject({
      reason: 'ModelLoadFailed',
      message: expect.stringMatching(
        /^init container fetch: FETCH_UNAUTHORIZED: s3:\/\/models\/m\/1\/\S+ part 1 of 1 \(bytes 0-\d+\): access denied \(HTTP 403\); check the credentials: AccessDenied: /,
      ) as unknown,
    });
  }, 60_000);
});
