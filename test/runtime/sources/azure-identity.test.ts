// az:// with Microsoft Entra tokens from @azure/identity's DefaultAzureCredential,
// as `tensorfleet-runtime fetch` (the init container) runs it: Azurite over
// HTTPS with `--oauth basic`, a loopback Entra ID (entra-server.ts) for AKS
// workload identity and an App Service style managed identity endpoint, and a
// self-signed certificate trusted through NODE_EXTRA_CA_CERTS. Each run gets a
// clean environment, so no credential finds anything of this machine's and
// none reaches the instance metadata service (IDENTITY_ENDPOINT is loopback).
// Also: the Azure SDKs are not loaded for any other scheme.

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { request } from 'node:https';
import {
  AccountSASPermissions,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Azurite, Tls } from './azurite.js';
import { ACCOUNT, ACCOUNT_KEY, selfSignedCert, startAzurite } from './azurite.js';
import type { EntraServer } from './entra-server.js';
import { startEntra } from './entra-server.js';

const MAIN = fileURLToPath(new URL('../../../src/runtime/main.ts', import.meta.url));
const FETCH = fileURLToPath(new URL('../../../src/runtime/sources/fetch.ts', import.meta.url));
const TSX = createRequire(import.meta.url).resolve('tsx');
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '0b0f3c55-5b7a-4c5e-9a2b-4d3f6c1e2a10';
const URI = `az://${ACCOUNT}/models/mnist/1`;

let tls: Tls;
let azurite: Azurite;
let entra: EntraServer;
let root: string;
let tokenFile: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tf-azure-identity-'));
  tls = await selfSignedCert();
  [azurite, entra] = await Promise.all([startAzurite({ tls }), startEntra(tls, TENANT)]);
  tokenFile = join(root, 'azure-identity-token');
  await writeFile(tokenFile, 'projected-service-account-token');
  // Seeded with an account SAS over HTTPS (node:https trusting the test certificate).
  const sas = generateAccountSASQueryParameters(
    {
      services: 'b',
      resourceTypes: 'sco',
      permissions: AccountSASPermissions.parse('rwc'),
      expiresOn: new Date(Date.now() + 3_600_000),
    },
    new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY),
  ).toString();
  await put(`${azurite.endpoint}/models?restype=container&${sas}`, '');
  await put(`${azurite.endpoint}/models/mnist/1/model.json?${sas}`, '{"a":1}');
  await put(`${azurite.endpoint}/models/mnist/1/group1-shard1of1.bin?${sas}`, Buffer.alloc(99, 3));
}, 60_000);

function put(url: string, body: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'PUT', ca: tls.pem, headers: { 'x-ms-blob-type': 'BlockBlob' } },
      (res) => {
        res.resume();
        res.on('end', () =>
          (res.statusCode ?? 0) < 300
            ? resolve()
            : reject(new Error(`PUT ${url.split('?')[0]}: HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

afterAll(async () => {
  await Promise.all([azurite?.stop(), entra?.stop()]);
  for (const dir of [root, tls?.dir])
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** `tensorfleet-runtime fetch` with exactly `env` (and PATH, a temp HOME, the test CA). */
function runFetch(
  dest: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', TSX, MAIN, 'fetch', '--model-uri', URI, '--dest', dest],
      {
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          HOME: root,
          NODE_EXTRA_CA_CERTS: tls.cert,
          AZURE_STORAGE_BLOB_ENDPOINT: azurite.endpoint,
          AZURE_AUTHORITY_HOST: entra.authorityHost,
          // Managed identity, when the chain gets there, asks this loopback endpoint, never IMDS.
          IDENTITY_ENDPOINT: entra.identityEndpoint,
          IDENTITY_HEADER: entra.identityHeader,
          ...env,
        },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const workloadIdentity = (): Record<string, string> => ({
  AZURE_TENANT_ID: TENANT,
  AZURE_CLIENT_ID: CLIENT,
  AZURE_FEDERATED_TOKEN_FILE: tokenFile,
});

describe('az:// with DefaultAzureCredential', () => {
  it('AKS workload identity: the projected token is exchanged for a storage token', async () => {
    entra.mode = 'valid';
    entra.tokenRequests.length = 0;
    const dest = join(root, 'wi');
    const run = await runFetch(dest, workloadIdentity());
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ dest, files: 2 });
    expect((await readdir(dest)).sort()).toEqual(['group1-shard1of1.bin', 'model.json']);
    expect(await readFile(join(dest, 'model.json'), 'utf8')).toBe('{"a":1}');
    const [request] = entra.tokenRequests;
    expect(request?.get('grant_type')).toBe('client_credentials');
    expect(request?.get('client_id')).toBe(CLIENT);
    expect(request?.get('client_assertion')).toBe('projected-service-account-token');
    expect(request?.get('scope')).toBe('https://storage.azure.com/.default');
    expect(entra.identityRequests).toEqual([]);
  }, 60_000);

  it('managed identity, when nothing else is configured', async () => {
    entra.mode = 'valid';
    entra.identityRequests.length = 0;
    const run = await runFetch(join(root, 'mi'), {});
    expect(run.code, run.stderr).toBe(0);
    expect(entra.identityRequests).toHaveLength(1);
    expect(new URL(entra.identityRequests[0] ?? '').searchParams.get('resource')).toBe(
      'https://storage.azure.com',
    );
  }, 60_000);

  it('an expired token is denied by the service, saying so', async () => {
    entra.mode = 'expired';
    const run = await runFetch(join(root, 'expired'), workloadIdentity());
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /tensorfleet-runtime: FETCH_UNAUTHORIZED: listing az:\/\/devstoreaccount1\/models\/mnist\/1: access denied \(HTTP 403\); check the credentials: AuthenticationFailed: .*token is expired.*\(used a Microsoft Entra token from DefaultAzureCredential\)/,
    );
  }, 60_000);

  it("a refused token request gives Entra ID's reason (AADSTS code), once", async () => {
    entra.mode = 'deny';
    const run = await runFetch(join(root, 'deny'), workloadIdentity());
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'tensorfleet-runtime: FETCH_UNAUTHORIZED: listing az://devstoreaccount1/models/mnist/1: no Microsoft Entra token for Azure Storage from DefaultAzureCredential: AADSTS700213: No matching federated identity record found for presented assertion subject.\n',
    );
  }, 60_000);
});

describe('loading the Azure SDKs', () => {
  it('happens on the first az:// request, never for other schemes', async () => {
    const dir = await mkdtemp(join(root, 'hooks-'));
    const log = join(dir, 'loaded.txt');
    const hooks = join(dir, 'hooks.mjs');
    // A module resolve hook (on Node's loader thread) that records every @azure module.
    await writeFile(
      hooks,
      `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (result.url.includes('/node_modules/@azure/')) appendFileSync(${JSON.stringify(log)}, result.url + '\\n');
  return result;
}`,
    );
    const model = join(dir, 'model');
    const script = join(dir, 'script.mts');
    await writeFile(
      script,
      `import { register } from 'node:module';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const mark = (m: string) => appendFileSync(${JSON.stringify(log)}, m + '\\n');
const { fetchModel, sourceFor } = await import(${JSON.stringify(pathToFileURL(FETCH).href)});
mkdirSync(${JSON.stringify(model)});
writeFileSync(${JSON.stringify(join(model, 'model.json'))}, '{}');
await fetchModel(${JSON.stringify(pathToFileURL(model).href)}, ${JSON.stringify(join(dir, 'out'))});
for (const uri of ['http://127.0.0.1:1/m/model.json', 's3://b/m', 'gs://b/m', '${URI}']) sourceFor(uri, {});
mark('BEFORE-AZ-REQUEST');
const az = sourceFor('${URI}', { AZURE_STORAGE_BLOB_ENDPOINT: 'http://127.0.0.1:1/${ACCOUNT}', AZURE_STORAGE_KEY: '${ACCOUNT_KEY}' });
await az.list().catch(() => undefined);
mark('AFTER-AZ-REQUEST');
`,
    );
    await writeFile(log, '');
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['--import', TSX, script], { stdio: 'inherit' });
      child.on('exit', resolve);
    });
    expect(code).toBe(0);
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    const before = lines.slice(0, lines.indexOf('BEFORE-AZ-REQUEST'));
    const after = lines.slice(lines.indexOf('BEFORE-AZ-REQUEST') + 1);
    expect(before).toEqual([]);
    expect(after.some((l) => l.includes('/@azure/storage-blob/'))).toBe(true);
    // A key needs no token: @azure/identity stays unloaded too.
    expect(after.some((l) => l.includes('/@azure/identity/'))).toBe(false);
    expect(after.at(-1)).toBe('AFTER-AZ-REQUEST');
  }, 60_000);
});
