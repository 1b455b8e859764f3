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

export interface AwsKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3Server {
  endpoint: string;
  /** Credentials of an IAM user allowed everything (auth-checking servers only). */
  accessKeyId: string;
  secretAccessKey: string;
  /** Auth-checking servers: an IAM user with no policy (every call is denied). */
  denied: AwsKeys;
  /** Auth-checking servers: a session of READER_ROLE_ARN (from sts:AssumeRole), with its token. */
  session: AwsKeys;
  /**
   * Lets the next `count` calls through unauthenticated. moto (5.2) checks
   * GetObject fully, but fails an unsigned AssumeRoleWithWebIdentity with a 500
   * and rejects the signature of a ListObjectsV2 whose prefix holds a "/",
   * botocore's as well.
   */
  skipAuth(count: number): Promise<void>;
  stop(): Promise<void>;
}

/** A role that may do everything, on auth-checking servers (moto's default account). */
export const READER_ROLE_ARN = 'arn:aws:iam::123456789012:role/tensorfleet-reader';

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
import boto3, json, os, sys, urllib.request
ep, auth, bucket, prefix, root, acl = sys.argv[1], sys.argv[2] == '1', sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
kw = dict(endpoint_url=ep, region_name='us-east-1')
key_id, secret = 'test', 'test'
out = {}
if auth:
    iam = boto3.client('iam', aws_access_key_id='x', aws_secret_access_key='x', **kw)
    iam.create_user(UserName='tensorfleet')
    iam.put_user_policy(UserName='tensorfleet', PolicyName='all', PolicyDocument=json.dumps(
        {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))
    k = iam.create_access_key(UserName='tensorfleet')['AccessKey']
    key_id, secret = k['AccessKeyId'], k['SecretAccessKey']
    iam.create_role(RoleName='tensorfleet-reader', AssumeRolePolicyDocument=json.dumps(
        {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Principal': {'AWS': '*'}, 'Action': 'sts:*'}]}))
    iam.put_role_policy(RoleName='tensorfleet-reader', PolicyName='all', PolicyDocument=json.dumps(
        {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))
    iam.create_user(UserName='nobody')
    d = iam.create_access_key(UserName='nobody')['AccessKey']
    out['denied'] = {'accessKeyId': d['AccessKeyId'], 'secretAccessKey': d['SecretAccessKey']}
    # From here on every call is checked.
    urllib.request.urlopen(urllib.request.Request(ep + '/moto-api/reset-auth', data=b'0', method='POST', headers={'content-type': 'text/plain'}))
    sts = boto3.client('sts', aws_access_key_id=key_id, aws_secret_access_key=secret, **kw)
    c = sts.assume_role(RoleArn='arn:aws:iam::123456789012:role/tensorfleet-reader', RoleSessionName='tensorfleet')['Credentials']
    out['session'] = {'accessKeyId': c['AccessKeyId'], 'secretAccessKey': c['SecretAccessKey'], 'sessionToken': c['SessionToken']}
s3 = boto3.client('s3', aws_access_key_id=key_id, aws_secret_access_key=secret, **kw)
s3.create_bucket(Bucket=bucket)
for dirpath, _, files in os.walk(root):
    for f in files:
        full = os.path.join(dirpath, f)
        rel = os.path.relpath(full, root).replace(os.sep, '/')
        with open(full, 'rb') as fh:
            s3.put_object(Bucket=bucket, Key=prefix + rel, Body=fh.read(), ACL=acl)
print(json.dumps({'id': key_id, 'secret': secret, **out}))
`;

/**
 * Starts moto (S3, STS and IAM) on a free loopback port and uploads `modelDir`
 * to s3://bucket/prefix. With auth, moto checks signatures, access keys, session
 * tokens and policies once the IAM set-up is done.
 */
export async function startS3(opts: {
  auth: boolean;
  bucket: string;
  prefix: string;
  modelDir: string;
  /** Objects anyone may read without credentials (moto checks ACLs of unsigned requests). */
  publicRead?: boolean;
  /** Address to listen on (default loopback; the e2e tier's pods reach the node IP). */
  host?: string;
}): Promise<S3Server> {
  const host = opts.host ?? '127.0.0.1';
  const port = await freePort(host);
  // With auth, the set-up turns checking on when its IAM calls are done.
  const env = { ...process.env, ...(opts.auth ? { INITIAL_NO_AUTH_ACTION_COUNT: '1000' } : {}) };
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
    opts.publicRead === true ? 'public-read' : 'private',
  ]);
  const creds = JSON.parse(stdout) as {
    id: string;
    secret: string;
    denied?: AwsKeys;
    session?: AwsKeys;
  };
  const none = { accessKeyId: '', secretAccessKey: '' };
  return {
    endpoint,
    accessKeyId: creds.id,
    secretAccessKey: creds.secret,
    denied: creds.denied ?? none,
    session: creds.session ?? none,
    async skipAuth(count) {
      const res = await fetch(`${endpoint}/moto-api/reset-auth`, {
        method: 'POST',
        // (moto reads a form-encoded body as a form, and the count as "".)
        headers: { 'content-type': 'text/plain' },
        body: String(count),
      });
      if (!res.ok) throw new Error(`moto reset-auth: HTTP ${res.status}`);
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
