// az:// (and https://<account>.blob.core.windows.net/) model sources through
// @azure/storage-blob, authenticated as azure-blob-location.ts decides; tokens
// come from @azure/identity's DefaultAzureCredential (service principal from
// the environment, AKS workload identity, managed identity, ...), which reads
// the process environment itself. Both SDKs are imported on first use, so a
// runtime serving other schemes never loads them.

import { open } from 'node:fs/promises';
import type { BlobClient, ContainerClient } from '@azure/storage-blob';
import { RuntimeError } from '../errors.js';
import { FetchError } from './download.js';
import { azureError } from './azure-blob-errors.js';
import type { AzureBlobLocation } from './azure-blob-location.js';
import { azureBlobLocation } from './azure-blob-location.js';
import type { ObjectLevel } from './object-store-directory.js';
import { objectStoreDirectory } from './object-store-directory.js';
import type { DirectoryEntries, DirectoryLister, ModelSource, RemoteFile } from './source.js';

/** Authorities that answer MSAL's instance discovery; any other (Azure Stack, a test's) cannot. */
const MICROSOFT_AUTHORITIES = [
  'login.microsoftonline.com',
  'login.chinacloudapi.cn',
  'login.microsoftonline.us',
];

function isMicrosoftAuthority(host: string | undefined): boolean {
  if (host === undefined || host === '') return true;
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new RuntimeError('CONFIG_INVALID', `AZURE_AUTHORITY_HOST "${host}" is not a URL`);
  }
  return MICROSOFT_AUTHORITIES.includes(url.hostname);
}

export interface AzureBlobOptions {
  /** Blobs at least twice this size download in ranges of this size (default 8 MiB). */
  blockBytes?: number;
  /** Ranges in flight at once (default 4). */
  concurrency?: number;
}

/** ADLS Gen2 (hierarchical namespace) lists each directory as an empty blob marked so. */
function isFolderMarker(metadata: Record<string, string> | undefined): boolean {
  return metadata?.['hdi_isfolder'] === 'true';
}

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  if (stream !== undefined) for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export class AzureBlobSource implements ModelSource, DirectoryLister {
  readonly describe: string;
  private readonly loc: AzureBlobLocation;
  private readonly env: NodeJS.ProcessEnv;
  private readonly blockBytes: number;
  private readonly concurrency: number;
  private container: Promise<ContainerClient> | undefined;

  constructor(uri: string, env: NodeJS.ProcessEnv = process.env, opts: AzureBlobOptions = {}) {
    this.loc = azureBlobLocation(uri, env);
    this.env = env;
    this.describe = this.loc.describe;
    this.blockBytes = opts.blockBytes ?? 8 * 2 ** 20;
    this.concurrency = opts.concurrency ?? 4;
  }

  private client(): Promise<ContainerClient> {
    this.container ??= this.connect();
    return this.container;
  }

  private async connect(): Promise<ContainerClient> {
    const sdk = await import('@azure/storage-blob');
    const { auth, endpoint } = this.loc;
    let url = endpoint;
    let credential;
    if (auth.kind === 'key') {
      credential = new sdk.StorageSharedKeyCredential(auth.accountName, auth.accountKey);
    } else if (auth.kind === 'token') {
      const identity = await import('@azure/identity');
      credential = new identity.DefaultAzureCredential({
        disableInstanceDiscovery: !isMicrosoftAuthority(this.env['AZURE_AUTHORITY_HOST']),
      });
    } else {
      if (auth.kind === 'sas') url += `?${auth.token}`;
      credential = new sdk.AnonymousCredential();
    }
    // One try per call: fetch.ts retries transient failures itself, with its
    // own backoff and stall watchdog.
    const pipeline = sdk.newPipeline(credential, { retryOptions: { maxTries: 1 } });
    return new sdk.BlobServiceClient(url, pipeline).getContainerClient(this.loc.container);
  }

  private where(name: string): string {
    return `az://${this.loc.account}/${this.loc.container}/${name}`;
  }

  async list(signal?: AbortSignal): Promise<RemoteFile[]> {
    const { prefix } = this.loc;
    const what = `listing ${this.describe}`;
    const files: RemoteFile[] = [];
    try {
      const container = await this.client();
      const pages = container
        .listBlobsFlat({ prefix, includeMetadata: true, abortSignal: signal })
        .byPage({ maxPageSize: 5000 });
      for await (const page of pages) {
        for (const blob of page.segment.blobItems) {
          if (blob.name.endsWith('/') || isFolderMarker(blob.metadata)) continue;
          files.push({ path: blob.name.slice(prefix.length), size: blob.properties.contentLength });
        }
      }
      if (files.length === 0 && prefix !== '') {
        const blob = prefix.slice(0, -1);
        if (await container.getBlobClient(blob).exists({ abortSignal: signal })) {
          throw new FetchError(
            'FETCH_NOT_FOUND',
            `${this.where(blob)} is a blob, not a directory: the model URI names the directory that holds the model's files`,
            false,
          );
        }
      }
    } catch (err) {
      throw azureError(what, err, this.loc);
    }
    if (files.length === 0) {
      throw new FetchError(
        'FETCH_NOT_FOUND',
        `${this.describe} not found (HTTP 404): no blobs under prefix "${prefix}" in container "${this.loc.container}" of storage account "${this.loc.account}"`,
        false,
      );
    }
    return files;
  }

  /** Blob names and virtual directories (ending in "/") directly under `prefix`. */
  private async listLevel(
    prefix: string,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<ObjectLevel> {
    const level: ObjectLevel = { names: [], prefixes: [] };
    try {
      const container = await this.client();
      const pages = container
        .listBlobsByHierarchy('/', { prefix, includeMetadata: true, abortSignal: signal })
        .byPage({ maxPageSize: 5000 });
      for await (const page of pages) {
        for (const blob of page.segment.blobItems)
          if (!isFolderMarker(blob.metadata)) level.names.push(blob.name);
        for (const p of page.segment.blobPrefixes ?? []) level.prefixes.push(p.name);
      }
    } catch (err) {
      throw azureError(what, err, this.loc);
    }
    return level;
  }

  async listDirectory(path: string, signal?: AbortSignal): Promise<DirectoryEntries> {
    const prefix = path === '' ? this.loc.prefix : `${this.loc.prefix}${path}/`;
    const what = `listing ${this.where(prefix)}`;
    return objectStoreDirectory('az', `${this.loc.account}/${this.loc.container}`, prefix, (p) =>
      this.listLevel(p, what, signal),
    );
  }

  async download(file: RemoteFile, dest: string, signal?: AbortSignal): Promise<number> {
    const name = this.loc.prefix + file.path;
    const what = this.where(name);
    try {
      const blob = (await this.client()).getBlobClient(name);
      const bytes =
        file.size !== undefined && file.size >= 2 * this.blockBytes
          ? await this.downloadRanges(blob, file.size, dest, what, signal)
          : await this.downloadWhole(blob, dest, what, signal);
      if (file.size !== undefined && bytes !== file.size) {
        throw new FetchError(
          'FETCH_SIZE_MISMATCH',
          `${what}: received ${bytes} bytes but the listing said ${file.size}`,
          true,
        );
      }
      return bytes;
    } catch (err) {
      throw azureError(`downloading ${what}`, err, this.loc);
    }
  }

  private async downloadWhole(
    blob: BlobClient,
    dest: string,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const res = await blob.download(0, undefined, { abortSignal: signal, maxRetryRequests: 0 });
    const out = await open(dest, 'w');
    let bytes = 0;
    try {
      for await (const chunk of res.readableStreamBody ?? []) {
        await out.write(chunk as Buffer);
        bytes += (chunk as Buffer).length;
      }
    } finally {
      await out.close();
    }
    if (res.contentLength !== undefined && bytes !== res.contentLength) {
      throw new FetchError(
        'FETCH_SIZE_MISMATCH',
        `${what}: received ${bytes} bytes but Content-Length said ${res.contentLength} (truncated download)`,
        true,
      );
    }
    return bytes;
  }

  /**
   * Downloads `size` bytes in ranges, `concurrency` at a time, written in
   * order: the file grows steadily, as the stall watchdog in fetch.ts expects,
   * and at most `concurrency` ranges are held in memory. Every range asks for
   * the ETag of the first, so a blob replaced meanwhile fails (412) instead of
   * mixing two versions.
   */
  private async downloadRanges(
    blob: BlobClient,
    size: number,
    dest: string,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    signal?.addEventListener('abort', onAbort);
    const count = Math.ceil(size / this.blockBytes);
    const ranges = new Map<number, Promise<Buffer>>();
    let etag: string | undefined;
    const fetchRange = async (i: number): Promise<Buffer> => {
      const offset = i * this.blockBytes;
      const length = Math.min(this.blockBytes, size - offset);
      const res = await blob.download(offset, length, {
        abortSignal: stop.signal,
        maxRetryRequests: 0,
        ...(etag === undefined ? {} : { conditions: { ifMatch: etag } }),
      });
      etag ??= res.etag;
      const data = await readAll(res.readableStreamBody);
      if (data.length !== length) {
        throw new FetchError(
          'FETCH_SIZE_MISMATCH',
          `${what}: bytes ${offset}-${offset + length - 1} arrived as ${data.length} bytes (truncated download)`,
          true,
        );
      }
      return data;
    };
    const start = (i: number): void => {
      const p = fetchRange(i);
      // A later range's failure is reported when its turn comes (or not at all once an earlier one failed).
      p.catch(() => undefined);
      ranges.set(i, p);
    };
    const out = await open(dest, 'w');
    let bytes = 0;
    try {
      // The first range alone: it fixes the ETag the others must match.
      start(0);
      await ranges.get(0);
      for (let i = 0, next = 1; i < count; i++) {
        for (; next < Math.min(count, i + this.concurrency); next++) start(next);
        const data = await (ranges.get(i) as Promise<Buffer>);
        ranges.delete(i);
        await out.write(data);
        bytes += data.length;
      }
    } finally {
      stop.abort();
      signal?.removeEventListener('abort', onAbort);
      await out.close();
    }
    return bytes;
  }
}
