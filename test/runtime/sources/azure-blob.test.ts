// az:// model sources against Azurite on loopback (HTTP, shared key and SAS;
// Microsoft Entra tokens are in azure-identity.test.ts): every way to give
// credentials, both URI forms, ranged downloads, versioned base paths, and a
// precise reason for each failure.

import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureBlobSource } from '../../../src/runtime/sources/azure-blob.js';
import { fetchModel } from '../../../src/runtime/sources/fetch.js';
import { listVersions } from '../../../src/runtime/versions/base-path.js';
import type { Entry } from '../versions/layout.js';
import { writeBasePath } from '../versions/layout.js';
import type { Azurite } from './azurite.js';
import { ACCOUNT, ACCOUNT_KEY, startAzurite } from './azurite.js';

const LAYOUT: Record<string, Entry> = {
  '1': 'graph',
  '2': 'saved-model',
  '3': 'no-model',
  tmp: 'graph',
  'README.md': 'file',
};
/** A blob big enough to download in ranges (with 64 KiB blocks). */
const BIG = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
const BLOCK = 64 * 1024;

let azurite: Azurite;
let models: ContainerClient;
let root: string;
let sas: string;
let expiredSas: string;
let foreignSas: string;

async function upload(container: ContainerClient, dir: string, prefix: string): Promise<void> {
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const name = `${prefix}${relative(dir, path).split('\\').join('/')}`;
    await container.getBlockBlobClient(name).uploadData(await readFile(path));
  }
}

async function files(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[relative(dir, path)] = createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  }
  return out;
}

function containerSas(key: string, expiresOn: Date): string {
  return generateBlobSASQueryParameters(
    {
      containerName: 'models',
      permissions: ContainerSASPermissions.parse('rl'),
      startsOn: new Date(Date.now() - 3_600_000),
      expiresOn,
    },
    new StorageSharedKeyCredential(ACCOUNT, key),
  ).toString();
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tf-azure-blob-'));
  azurite = await startAzurite();
  const service = new BlobServiceClient(
    azurite.endpoint,
    new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY),
  );
  models = service.getContainerClient('models');
  await models.create();
  const base = join(root, 'layout');
  await writeBasePath(base, LAYOUT);
  await upload(models, base, 'mnist/');
  await models.getBlockBlobClient('big/weights.bin').uploadData(BIG);
  await models.getBlockBlobClient('big/model.json').uploadData(Buffer.from('{}'));
  // What an ADLS Gen2 (hierarchical namespace) account lists for a directory.
  await models
    .getBlockBlobClient('mnist/1/assets')
    .uploadData(Buffer.alloc(0), { metadata: { hdi_isfolder: 'true' } });
  const publicModels = service.getContainerClient('public-models');
  await publicModels.create({ access: 'container' });
  await upload(publicModels, join(base, '1'), 'mnist/1/');
  sas = containerSas(ACCOUNT_KEY, new Date(Date.now() + 3_600_000));
  expiredSas = containerSas(ACCOUNT_KEY, new Date(Date.now() - 60_000));
  foreignSas = containerSas(
    Buffer.alloc(64, 1).toString('base64'),
    new Date(Date.now() + 3_600_000),
  );
}, 60_000);

afterAll(async () => {
  await azurite?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

const v1 = {
  'model.json': expect.any(String) as unknown,
  'group1-shard1of1.bin': expect.any(String) as unknown,
};

describe('az:// credentials', () => {
  it('a connection string (account key and blob endpoint)', async () => {
    const dest = join(root, 'conn');
    const result = await fetchModel('az://devstoreaccount1/models/mnist/1', dest, {
      env: { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString },
    });
    expect(result.files).toBe(2);
    // The ADLS folder marker is not a file.
    expect(await files(dest)).toEqual(v1);
    expect(await files(dest)).toEqual(await files(join(root, 'layout', '1')));
  });

  it('an account key, with the endpoint from AZURE_STORAGE_BLOB_ENDPOINT', async () => {
    const dest = join(root, 'key');
    await fetchModel('az://devstoreaccount1/models/mnist/2/', dest, {
      env: {
        AZURE_STORAGE_BLOB_ENDPOINT: azurite.endpoint,
        AZURE_STORAGE_ACCOUNT: ACCOUNT,
        AZURE_STORAGE_KEY: ACCOUNT_KEY,
      },
    });
    expect(Object.keys(await files(dest)).sort()).toEqual([
      'saved_model.pb',
      join('variables', 'variables.index'),
    ]);
  });

  it('a SAS from AZURE_STORAGE_SAS_TOKEN, and one in an https blob URL', async () => {
    const env = { AZURE_STORAGE_BLOB_ENDPOINT: azurite.endpoint };
    const a = join(root, 'sas-env');
    await fetchModel('az://devstoreaccount1/models/mnist/1', a, {
      env: { ...env, AZURE_STORAGE_SAS_TOKEN: `?${sas}` },
    });
    expect(await files(a)).toEqual(v1);
    const b = join(root, 'sas-url');
    const result = await fetchModel(
      `https://devstoreaccount1.blob.core.windows.net/models/mnist/1/?${sas}`,
      b,
      // The SAS stays out of the log.
      { env, log: (m) => expect(m).not.toContain('sig=') },
    );
    expect(result.files).toBe(2);
    expect(await files(b)).toEqual(await files(a));
  });

  it('anonymous access to a public container when asked for', async () => {
    const dest = join(root, 'anon');
    await fetchModel('az://devstoreaccount1/public-models/mnist/1', dest, {
      env: { AZURE_STORAGE_BLOB_ENDPOINT: azurite.endpoint, TENSORFLEET_AZURE_ANONYMOUS: 'true' },
    });
    expect(await files(dest)).toEqual(v1);
  });
});

describe('az:// downloads and listings', () => {
  const env = { AZURE_STORAGE_CONNECTION_STRING: '' };
  beforeAll(() => {
    env.AZURE_STORAGE_CONNECTION_STRING = azurite.connectionString;
  });

  it('downloads a large blob in ranges, in parallel, byte for byte', async () => {
    const source = new AzureBlobSource('az://devstoreaccount1/models/big', env, {
      blockBytes: BLOCK,
      concurrency: 3,
    });
    const listed = await source.list();
    expect(listed).toEqual(
      expect.arrayContaining([{ path: 'weights.bin', size: BIG.length }]) as unknown,
    );
    const dest = join(root, 'big.bin');
    expect(await source.download({ path: 'weights.bin', size: BIG.length }, dest)).toBe(BIG.length);
    expect((await readFile(dest)).equals(BIG)).toBe(true);
    // A listing size that disagrees with the blob is a size mismatch, not a silent short file.
    await expect(
      source.download({ path: 'weights.bin', size: BIG.length + 1 }, join(root, 'big2.bin')),
    ).rejects.toMatchObject({ code: 'FETCH_SIZE_MISMATCH' });
  });

  it('a blob replaced during a ranged download fails (ETag), to be retried', async () => {
    const name = 'changing/weights.bin';
    await models.getBlockBlobClient(name).uploadData(BIG);
    // 1 KiB ranges one at a time: hundreds of requests, time to replace the blob after the first.
    const source = new AzureBlobSource('az://devstoreaccount1/models/changing', env, {
      blockBytes: 1024,
      concurrency: 1,
    });
    const dest = join(root, 'changing.bin');
    const download = source.download({ path: 'weights.bin', size: BIG.length }, dest);
    download.catch(() => undefined);
    while (((await stat(dest).catch(() => undefined))?.size ?? 0) === 0)
      await new Promise((r) => setTimeout(r, 2));
    await models.getBlockBlobClient(name).uploadData(Buffer.from(BIG).reverse());
    await expect(download).rejects.toMatchObject({
      code: 'FETCH_FAILED',
      transient: true,
      message: expect.stringMatching(
        /^downloading az:\/\/devstoreaccount1\/models\/changing\/weights\.bin: the blob changed during the download \(HTTP 412 ConditionNotMet\)$/,
      ) as unknown,
    });
  });

  it('lists a versioned base path one level at a time', async () => {
    const listing = await listVersions('az://devstoreaccount1/models/mnist', { env });
    expect(listing.versions).toEqual([1, 2]);
    expect(listing.skipped).toEqual([
      {
        name: '3',
        reason: 'no model in 3/: expected saved_model.pb or saved_model.pbtxt or model.json',
      },
    ]);
  });

  it('says what is missing: the container, the prefix, or that the path is a blob', async () => {
    await expect(
      fetchModel('az://devstoreaccount1/nope/mnist/1', join(root, 'x1'), { env }),
    ).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message:
        'container "nope" in storage account "devstoreaccount1" not found (HTTP 404): ContainerNotFound',
    });
    await expect(
      fetchModel('az://devstoreaccount1/models/mnist/9', join(root, 'x2'), { env }),
    ).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message:
        'az://devstoreaccount1/models/mnist/9 not found (HTTP 404): no blobs under prefix "mnist/9/" in container "models" of storage account "devstoreaccount1"',
    });
    await expect(
      fetchModel('az://devstoreaccount1/models/mnist/1/model.json', join(root, 'x3'), { env }),
    ).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: expect.stringContaining(
        'az://devstoreaccount1/models/mnist/1/model.json is a blob, not a directory',
      ) as unknown,
    });
    await expect(listVersions('az://devstoreaccount1/models/nope', { env })).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message:
        'az://devstoreaccount1/models/nope/ not found (HTTP 404): no objects under prefix "nope/" in container "devstoreaccount1/models"',
    });
    await expect(
      listVersions('az://devstoreaccount1/models/mnist/README.md', { env }),
    ).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: 'az://devstoreaccount1/models/mnist/README.md is an object, not a directory',
    });
  });
});

describe('az:// failures', () => {
  const endpoint = (): { AZURE_STORAGE_BLOB_ENDPOINT: string } => ({
    AZURE_STORAGE_BLOB_ENDPOINT: azurite.endpoint,
  });
  // Azurite's code for a bad signature (Azure's is AuthenticationFailed), then what was used.
  const denied = (used: string): unknown =>
    expect.stringMatching(
      new RegExp(
        `^listing az://devstoreaccount1/models/mnist/1: access denied \\(HTTP 403\\); check the credentials: AuthorizationFailure: Server failed to authenticate the request\\..*\\(used ${used}\\)$`,
      ),
    );

  it('a wrong account key is denied, without retrying', async () => {
    const logs: string[] = [];
    await expect(
      fetchModel('az://devstoreaccount1/models/mnist/1', join(root, 'f1'), {
        env: { ...endpoint(), AZURE_STORAGE_KEY: Buffer.alloc(64, 2).toString('base64') },
        log: (m) => logs.push(m),
      }),
    ).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: denied('the account key in AZURE_STORAGE_KEY'),
    });
    expect(logs).toEqual([]);
  });

  it('a SAS signed with another key, and an expired SAS, are denied', async () => {
    await expect(
      fetchModel('az://devstoreaccount1/models/mnist/1', join(root, 'f2'), {
        env: { ...endpoint(), AZURE_STORAGE_SAS_TOKEN: foreignSas },
      }),
    ).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: denied('the SAS in AZURE_STORAGE_SAS_TOKEN'),
    });
    const expiry = new URLSearchParams(expiredSas).get('se') ?? '';
    await expect(
      fetchModel('az://devstoreaccount1/models/mnist/1', join(root, 'f3'), {
        env: { ...endpoint(), AZURE_STORAGE_SAS_TOKEN: expiredSas },
      }),
    ).rejects.toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      message: denied(`the SAS in AZURE_STORAGE_SAS_TOKEN; the SAS expired at ${expiry}`),
    });
  });

  it('an unreachable endpoint is retried, then fails naming it', async () => {
    const port = await closedPort();
    const logs: string[] = [];
    await expect(
      fetchModel('az://devstoreaccount1/models/mnist/1', join(root, 'f4'), {
        env: {
          AZURE_STORAGE_BLOB_ENDPOINT: `http://127.0.0.1:${port}/devstoreaccount1`,
          AZURE_STORAGE_KEY: ACCOUNT_KEY,
        },
        retries: 1,
        backoffMs: 10,
        log: (m) => logs.push(m),
      }),
    ).rejects.toMatchObject({
      code: 'FETCH_FAILED',
      message: `listing az://devstoreaccount1/models/mnist/1: request to http://127.0.0.1:${port} failed (ECONNREFUSED) (gave up after 2 attempts)`,
    });
    expect(logs).toHaveLength(1);
  });

  it('a key or connection string for another account is refused before any request', () => {
    expect(
      () =>
        new AzureBlobSource('az://otheraccount/models/m', {
          AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
        }),
    ).toThrow(
      'AZURE_STORAGE_CONNECTION_STRING is for storage account "devstoreaccount1" but the model URI names "otheraccount"',
    );
  });
});
