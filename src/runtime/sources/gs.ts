// gs://bucket/prefix model sources through @google-cloud/storage (client and
// credentials: gcs-client.ts; errors: gcs-errors.ts).

import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Bucket } from '@google-cloud/storage';
import { RuntimeError } from '../errors.js';
import { FetchError, statusError } from './download.js';
import type { GcsEndpoint } from './gcs-client.js';
import { gcsEndpoint, openBucket } from './gcs-client.js';
import { gcsError } from './gcs-errors.js';
import type { ObjectLevel } from './object-store-directory.js';
import { objectStoreDirectory } from './object-store-directory.js';
import type { DirectoryEntries, DirectoryLister, ModelSource, RemoteFile } from './source.js';

/** Settles with `work`, or rejects when `signal` aborts (the SDK's listings take no signal). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class GcsSource implements ModelSource, DirectoryLister {
  readonly describe: string;
  private readonly bucketName: string;
  private readonly prefix: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly endpoint: GcsEndpoint;
  private bucket: Promise<Bucket> | undefined;

  constructor(uri: string, env: NodeJS.ProcessEnv = process.env) {
    const rest = uri.slice('gs://'.length);
    const slash = rest.indexOf('/');
    this.bucketName = slash === -1 ? rest : rest.slice(0, slash);
    if (this.bucketName === '')
      throw new RuntimeError('CONFIG_INVALID', `"${uri}" has no bucket (gs://<bucket>/<prefix>)`);
    let prefix = slash === -1 ? '' : rest.slice(slash + 1);
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
    this.prefix = prefix;
    this.describe = uri;
    this.env = env;
    this.endpoint = gcsEndpoint(env);
  }

  /** Runs one SDK call on the bucket; any failure becomes a FetchError saying what `what` was. */
  private async call<T>(
    what: string,
    signal: AbortSignal | undefined,
    fn: (bucket: Bucket) => Promise<T>,
  ): Promise<T> {
    if (this.bucket === undefined) {
      const opening = openBucket(this.bucketName, this.endpoint, this.env);
      this.bucket = opening;
      // A failed open (an unreadable credentials file) is tried again on the next call.
      opening.catch(() => {
        if (this.bucket === opening) this.bucket = undefined;
      });
    }
    try {
      return await untilAborted(this.bucket.then(fn), signal);
    } catch (err) {
      if (err instanceof RuntimeError || signal?.aborted) throw err;
      throw gcsError(what, err, this.env);
    }
  }

  /** One page of a listing: object names and sizes, next-level prefixes, the next page's token. */
  private async listPage(
    query: { prefix: string; delimiter?: string; pageToken?: string },
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<{ items: RemoteFile[]; prefixes: string[]; next: string | undefined }> {
    return this.call(what, signal, async (bucket) => {
      const [files, next, response] = await bucket
        .getFiles({ ...query, autoPaginate: false })
        .catch((err: unknown) => {
          // A listing finds no prefix with 200 and an empty page: its 404 is the bucket's.
          if ((err as { code?: unknown }).code !== 404) throw err;
          throw statusError(what, 404, `bucket "${this.bucketName}" does not exist`);
        });
      return {
        items: files.map((f) => ({
          path: f.name,
          size: f.metadata.size === undefined ? undefined : Number(f.metadata.size),
        })),
        prefixes: (response as { prefixes?: string[] } | undefined)?.prefixes ?? [],
        next: (next as { pageToken?: string } | null | undefined)?.pageToken,
      };
    });
  }

  async list(signal?: AbortSignal): Promise<RemoteFile[]> {
    const files: RemoteFile[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.listPage(
        { prefix: this.prefix, ...(pageToken === undefined ? {} : { pageToken }) },
        `listing ${this.describe}`,
        signal,
      );
      for (const item of page.items) {
        // A zero-byte "dir/" object is a folder placeholder some tools write, not a file.
        if (item.path.endsWith('/')) continue;
        files.push({ path: item.path.slice(this.prefix.length), size: item.size });
      }
      pageToken = page.next;
    } while (pageToken !== undefined);
    if (files.length === 0) {
      throw statusError(
        this.describe,
        404,
        `no objects under prefix "${this.prefix}" in bucket "${this.bucketName}"`,
      );
    }
    return files;
  }

  private async listLevel(
    prefix: string,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<ObjectLevel> {
    const names: string[] = [];
    // A set: Cloud Storage emulators repeat a prefix on each page it falls after the token.
    const prefixes = new Set<string>();
    let pageToken: string | undefined;
    do {
      const page = await this.listPage(
        { prefix, delimiter: '/', ...(pageToken === undefined ? {} : { pageToken }) },
        what,
        signal,
      );
      names.push(...page.items.map((i) => i.path));
      for (const p of page.prefixes) prefixes.add(p);
      pageToken = page.next;
    } while (pageToken !== undefined);
    return { names, prefixes: [...prefixes] };
  }

  async listDirectory(path: string, signal?: AbortSignal): Promise<DirectoryEntries> {
    const prefix = path === '' ? this.prefix : `${this.prefix}${path}/`;
    const what = `listing gs://${this.bucketName}/${prefix}`;
    return objectStoreDirectory('gs', this.bucketName, prefix, (p) =>
      this.listLevel(p, what, signal),
    );
  }

  async download(file: RemoteFile, dest: string, signal?: AbortSignal): Promise<number> {
    const name = this.prefix + file.path;
    const what = `gs://${this.bucketName}/${name}`;
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    await this.call(what, signal, (bucket) =>
      // The SDK checks the object's CRC32C (or MD5) at the end of the body: a
      // corrupt or truncated transfer fails here instead of loading.
      pipeline(
        bucket.file(name).createReadStream(),
        counter,
        createWriteStream(dest),
        ...(signal === undefined ? [] : [{ signal }]),
      ),
    );
    if (file.size !== undefined && bytes !== file.size) {
      throw new FetchError(
        'FETCH_SIZE_MISMATCH',
        `${what}: received ${bytes} bytes but the listing said ${file.size}`,
        true,
      );
    }
    return bytes;
  }
}
