// Reading an Azure Blob Storage location from a URI and the environment:
// both URI forms, the endpoint and credential precedence, and a CONFIG_INVALID
// naming the problem for every malformed input.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../src/runtime/errors.js';
import { sasWindow } from '../../../src/runtime/sources/azure-blob-errors.js';
import {
  azureBlobLocation,
  isAzureBlobUri,
} from '../../../src/runtime/sources/azure-blob-location.js';
import { sourceFor } from '../../../src/runtime/sources/fetch.js';

const KEY = Buffer.alloc(64, 9).toString('base64');

describe('azureBlobLocation', () => {
  it('reads az:// and https blob URLs alike', () => {
    expect(azureBlobLocation('az://acct01/models/mnist/1', {})).toEqual({
      account: 'acct01',
      container: 'models',
      prefix: 'mnist/1/',
      endpoint: 'https://acct01.blob.core.windows.net',
      auth: { kind: 'token' },
      describe: 'az://acct01/models/mnist/1',
    });
    const https = azureBlobLocation(
      'https://acct01.blob.core.chinacloudapi.cn/models/my%20model/?sv=1&sig=secret',
      {},
    );
    expect(https).toMatchObject({
      account: 'acct01',
      container: 'models',
      prefix: 'my model/',
      endpoint: 'https://acct01.blob.core.chinacloudapi.cn',
      auth: { kind: 'sas', token: 'sv=1&sig=secret', from: 'the SAS in the model URI' },
      describe: 'https://acct01.blob.core.chinacloudapi.cn/models/my%20model/',
    });
    expect(azureBlobLocation('az://acct01/models', {}).prefix).toBe('');
  });

  it('tells blob storage URLs from other https URLs by host', () => {
    expect(isAzureBlobUri('https://acct01.blob.core.windows.net/c/m/')).toBe(true);
    expect(isAzureBlobUri('https://acct01.blob.core.usgovcloudapi.net/c/m/')).toBe(true);
    expect(isAzureBlobUri('https://models.example.com/blob.core.windows.net/')).toBe(false);
    expect(isAzureBlobUri('https://blob.core.windows.net.example.com/c/')).toBe(false);
    expect(isAzureBlobUri('http://acct01.blob.core.windows.net/c/')).toBe(false);
    expect(sourceFor('https://models.example.com/m/model.json', {})?.constructor.name).toBe(
      'HttpSource',
    );
    expect(sourceFor('az://acct01/c01/m', {})?.constructor.name).toBe('AzureBlobSource');
    expect(() => sourceFor('ftp://host/m', {})).toThrow(
      'unsupported model URI "ftp://host/m": use file://, http(s)://, s3://, gs://, az://, hf://<org>/<repo>[@<revision>]/<path>, oci://<registry>/<repository>:<tag>|@sha256:<digest>, pvc://<claim>/<path> or a local path',
    );
  });

  it('takes the endpoint from the override, the connection string, the URI, in that order', () => {
    const conn = `AccountName=acct01;AccountKey=${KEY};EndpointSuffix=core.usgovcloudapi.net`;
    expect(
      azureBlobLocation('az://acct01/c01', { AZURE_STORAGE_CONNECTION_STRING: conn }).endpoint,
    ).toBe('https://acct01.blob.core.usgovcloudapi.net');
    expect(
      azureBlobLocation('az://acct01/c01', {
        AZURE_STORAGE_CONNECTION_STRING: `${conn};BlobEndpoint=http://127.0.0.1:10000/acct01/`,
      }).endpoint,
    ).toBe('http://127.0.0.1:10000/acct01');
    expect(
      azureBlobLocation('https://acct01.blob.core.windows.net/c01/m', {
        AZURE_STORAGE_BLOB_ENDPOINT: 'http://127.0.0.1:1/acct01',
        AZURE_STORAGE_CONNECTION_STRING: `${conn};BlobEndpoint=http://127.0.0.1:2/acct01`,
      }).endpoint,
    ).toBe('http://127.0.0.1:1/acct01');
  });

  it('picks credentials: URI SAS, connection string, SAS token, key, anonymous, token', () => {
    const all = {
      AZURE_STORAGE_CONNECTION_STRING: `AccountName=acct01;SharedAccessSignature=?sv=c`,
      AZURE_STORAGE_SAS_TOKEN: '?sv=e',
      AZURE_STORAGE_KEY: KEY,
      TENSORFLEET_AZURE_ANONYMOUS: 'true',
    };
    const auth = (env: NodeJS.ProcessEnv, uri = 'az://acct01/c01/m'): unknown =>
      azureBlobLocation(uri, env).auth;
    expect(auth(all, 'https://acct01.blob.core.windows.net/c01/m?sv=u')).toMatchObject({
      token: 'sv=u',
    });
    expect(auth(all)).toMatchObject({ kind: 'sas', token: 'sv=c' });
    const { AZURE_STORAGE_CONNECTION_STRING: _c, ...noConn } = all;
    expect(auth(noConn)).toMatchObject({ kind: 'sas', token: 'sv=e' });
    const { AZURE_STORAGE_SAS_TOKEN: _s, ...keyOnward } = noConn;
    expect(auth(keyOnward)).toEqual({
      kind: 'key',
      accountName: 'acct01',
      accountKey: KEY,
      from: 'the account key in AZURE_STORAGE_KEY',
    });
    expect(auth({ TENSORFLEET_AZURE_ANONYMOUS: 'true' })).toEqual({ kind: 'anonymous' });
    expect(auth({})).toEqual({ kind: 'token' });
  });

  it('refuses credentials for another account, and incomplete connection strings', () => {
    const bad =
      (env: NodeJS.ProcessEnv): unknown =>
      () =>
        azureBlobLocation('az://acct01/c01/m', env);
    expect(bad({ AZURE_STORAGE_KEY: KEY, AZURE_STORAGE_ACCOUNT: 'acct02' })).toThrow(
      'AZURE_STORAGE_ACCOUNT is for storage account "acct02" but the model URI names "acct01"',
    );
    expect(bad({ AZURE_STORAGE_CONNECTION_STRING: 'AccountName=acct01' })).toThrow(
      'AZURE_STORAGE_CONNECTION_STRING has neither an AccountKey nor a SharedAccessSignature',
    );
    expect(bad({ AZURE_STORAGE_CONNECTION_STRING: `AccountKey=${KEY}` })).toThrow(
      'AZURE_STORAGE_CONNECTION_STRING has an AccountKey but no AccountName',
    );
    expect(bad({ AZURE_STORAGE_CONNECTION_STRING: 'AccountName' })).toThrow(
      'AZURE_STORAGE_CONNECTION_STRING is malformed: "AccountName" is not <name>=<value>',
    );
    expect(bad({ AZURE_STORAGE_BLOB_ENDPOINT: 'ftp://x' })).toThrow(
      'AZURE_STORAGE_BLOB_ENDPOINT "ftp://x" is not an http(s) URL',
    );
  });

  it('names what is wrong with a malformed URI', () => {
    expect(() => azureBlobLocation('az://Acct/c01', {})).toThrow(
      '"az://Acct/c01": "Acct" is not a storage account name (3 to 24 lowercase letters and digits;',
    );
    expect(() => azureBlobLocation('az://acct01', {})).toThrow('"az://acct01" names no container');
    expect(() => azureBlobLocation('az://acct01/a--b/m', {})).toThrow(
      '"a--b" is not a container name',
    );
  });

  it('any az:// or blob https URI gives a location or a CONFIG_INVALID, nothing else', () => {
    const segment = fc.string({
      unit: fc.constantFrom('a', 'Z', '0', '-', '.', '%', '/', '$', ' '),
    });
    fc.assert(
      fc.property(
        fc.constantFrom('az://', 'https://'),
        segment,
        segment,
        segment,
        (scheme, account, container, path) => {
          const uri =
            scheme === 'az://'
              ? `az://${account}/${container}/${path}`
              : `https://${account}.blob.core.windows.net/${container}/${path}`;
          try {
            const loc = azureBlobLocation(uri, {});
            expect(loc.account).toMatch(/^[a-z0-9]{3,24}$/);
            expect(loc.prefix === '' || loc.prefix.endsWith('/')).toBe(true);
          } catch (err) {
            expect(err).toBeInstanceOf(RuntimeError);
            expect((err as RuntimeError).code).toBe('CONFIG_INVALID');
          }
        },
      ),
    );
  });
});

describe('sasWindow', () => {
  const now = new Date('2026-12-07T12:00:00Z');
  it('says when a SAS has expired or is not valid yet', () => {
    expect(sasWindow('sv=1&se=2026-12-07T11%3A00%3A00Z&sig=x', now)).toBe(
      '; the SAS expired at 2026-12-07T11:00:00Z',
    );
    expect(sasWindow('st=2026-12-08T00:00:00Z&se=2026-12-09T00:00:00Z', now)).toBe(
      '; the SAS is not valid before 2026-12-08T00:00:00Z',
    );
    expect(sasWindow('se=2026-12-09T00:00:00Z', now)).toBe('');
    expect(sasWindow('sig=x', now)).toBe('');
  });
});
