// Azurite, Microsoft's Azure Storage emulator (the `azurite` devDependency), on
// loopback for the az:// source tests: the blob service only, in memory,
// telemetry off. With `tls` it serves HTTPS and accepts Microsoft Entra bearer
// tokens (`--oauth basic`: it checks a token's issuer, audience and lifetime,
// not its signature), which the Azure SDK sends only over HTTPS.

import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const AZURITE_BLOB = join(
  dirname(createRequire(import.meta.url).resolve('azurite/package.json')),
  'dist/src/blob/main.js',
);

/** Azurite's built-in account and its published key. */
export const ACCOUNT = 'devstoreaccount1';
export const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Tls {
  cert: string;
  key: string;
  /** The certificate's PEM text (a client's trusted CA), and the key's. */
  pem: string;
  keyPem: string;
  dir: string;
}

/** A self-signed certificate for 127.0.0.1, made with openssl in a temp directory. */
export async function selfSignedCert(): Promise<Tls> {
  const dir = await mkdtemp(join(tmpdir(), 'tf-azurite-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  return { cert, key, pem: await readFile(cert, 'utf8'), keyPem: await readFile(key, 'utf8'), dir };
}

export interface Azurite {
  /** The account's blob service URL (path style: Azurite puts the account in the path). */
  endpoint: string;
  connectionString: string;
  stop(): Promise<void>;
}

export async function startAzurite(opts: { tls?: Tls } = {}): Promise<Azurite> {
  const workspace = await mkdtemp(join(tmpdir(), 'tf-azurite-'));
  const args = [
    AZURITE_BLOB,
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    '0',
    // In memory; the workspace (its cwd) only catches anything it writes regardless.
    '--inMemoryPersistence',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
    '--silent',
    ...(opts.tls === undefined
      ? []
      : ['--cert', opts.tls.cert, '--key', opts.tls.key, '--oauth', 'basic']),
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: workspace,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start: ${output}`)), 30_000);
    const onData = (d: Buffer): void => {
      output += d.toString();
      const m = /successfully listens on (https?:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited (${code}): ${output}`));
    });
  });
  const endpoint = `${url}/${ACCOUNT}`;
  return {
    endpoint,
    connectionString: `DefaultEndpointsProtocol=${url.split(':')[0]};AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};BlobEndpoint=${endpoint};`,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      await rm(workspace, { recursive: true, force: true });
    },
  };
}
