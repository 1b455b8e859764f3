// A real S3-compatible server on loopback for the s3:// source tests: moto's
// server mode, set up with boto3, the AWS SDK for Python, both pinned in
// tools/moto/requirements.txt and installed into a cached virtualenv on first
// use (tools/moto/setup.sh).

import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MOTO_SETUP = fileURLToPath(new URL('../../tools/moto/setup.sh', import.meta.url));

let motoBin: Promise<string> | undefined;

/** The virtualenv's bin directory (moto_server, python), installed on first use. */
function moto(): Promise<string> {
  motoBin ??= run('bash', [MOTO_SETUP], { maxBuffer: 2 ** 20 }).then(
    ({ stdout }) => stdout.trim(),
    (err: Error & { stderr?: string }) => {
      throw new Error(`tools/moto/setup.sh: ${err.stderr ?? err.message}`);
    },
  );
  return motoBin;
}

export interface S3Server {
  endpoint: string;
  /** Credentials of an IAM user allowed everything (auth-checking servers only). */
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr !== null
          ? resolve(addr.port)
          : reject(new Error('no port')),
      );
    });
  });
}

const SETUP = `
import boto3, json, os, sys
ep, auth, bucket, prefix, root = sys.argv[1], sys.argv[2] == '1', sys.argv[3], sys.argv[4], sys.argv[5]
kw = dict(endpoint_url=ep, region_name='us-east-1')
key_id, secret = 'test', 'test'
if auth:
    iam = boto3.client('iam', aws_access_key_id='x', aws_secret_access_key='x', **kw)
    iam.create_user(UserName='tensorfleet')
    iam.put_user_policy(UserName='tensorfleet', PolicyName='all', PolicyDocument=json.dumps(
        {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))
    k = iam.create_access_key(UserName='tensorfleet')['AccessKey']
    key_id, secret = k['AccessKeyId'], k['SecretAccessKey']
s3 = boto3.client('s3', aws_access_key_id=key_id, aws_secret_access_key=secret, **kw)
s3.create_bucket(Bucket=bucket)
for dirpath, _, files in os.walk(root):
    for f in files:
        full = os.path.join(dirpath, f)
        rel = os.path.relpath(full, root).replace(os.sep, '/')
        with open(full, 'rb') as fh:
            s3.put_object(Bucket=bucket, Key=prefix + rel, Body=fh.read())
print(json.dumps({'id': key_id, 'secret': secret}))
`;

/**
 * Starts moto on a free loopback port and uploads `modelDir` to s3://bucket/prefix.
 * With auth, moto checks signatures and access keys (after the three set-up IAM calls).
 */
export async function startS3(opts: {
  auth: boolean;
  bucket: string;
  prefix: string;
  modelDir: string;
  /** Address to listen on (default loopback; the e2e tier's pods reach the node IP). */
  host?: string;
}): Promise<S3Server> {
  const host = opts.host ?? '127.0.0.1';
  const port = await freePort(host);
  const env = { ...process.env, ...(opts.auth ? { INITIAL_NO_AUTH_ACTION_COUNT: '3' } : {}) };
  const bin = await moto();
  const child: ChildProcess = spawn(join(bin, 'moto_server'), ['-H', host, '-p', String(port)], {
    env,
    stdio: 'ignore',
  });
  const endpoint = `http://${host}:${port}`;
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await fetch(`${endpoint}/moto-api/`);
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`moto_server (${bin}) did not start`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const { stdout } = await run(join(bin, 'python'), [
    '-c',
    SETUP,
    endpoint,
    opts.auth ? '1' : '0',
    opts.bucket,
    opts.prefix,
    opts.modelDir,
  ]);
  const creds = JSON.parse(stdout) as { id: string; secret: string };
  return {
    endpoint,
    accessKeyId: creds.id,
    secretAccessKey: creds.secret,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
