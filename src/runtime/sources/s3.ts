// s3://bucket/prefix model sources: AWS S3 or any S3-compatible store, through
// the AWS SDK for JavaScript v3 (imported on first use, s3-client.ts).
// Environment: the SDK's credential chain and region (AWS_REGION,
// AWS_DEFAULT_REGION, the profile's region, else us-east-1); an endpoint
// override TENSORFLEET_S3_ENDPOINT, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL
// (which switches to path-style addressing, as TENSORFLEET_S3_FORCE_PATH_STYLE=true
// does); TENSORFLEET_S3_PART_SIZE and TENSORFLEET_S3_CONCURRENCY for the
// parallel ranged download of large files.

import type { Readable } from 'node:stream';
import type { _Object, CommonPrefix, S3Client } from '@aws-sdk/client-s3';
import { RuntimeError } from '../errors.js';
import { FetchError, statusError } from './download.js';
import type { ObjectLevel } from './object-store-directory.js';
import { objectStoreDirectory } from './object-store-directory.js';
import type { ResolvedS3Client, S3ClientSettings } from './s3-client.js';
import { createS3Client } from './s3-client.js';
import type { S3ErrorContext } from './s3-errors.js';
import { s3Error } from './s3-errors.js';
import type { Part } from './s3-parts.js';
import { downloadParts, planParts } from './s3-parts.js';
import type { DirectoryEntries, DirectoryLister, ModelSource, RemoteFile } from './source.js';

const MiB = 2 ** 20;

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RuntimeError(
      'CONFIG_INVALID',
      `${name} must be a positive whole number, got "${raw}"`,
    );
  return n;
}

export class S3Source implements ModelSource, DirectoryLister {
  readonly describe: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly settings: S3ClientSettings;
  /** Bytes per ranged GET; files over twice this download in parts. */
  private readonly partSize: number;
  private readonly concurrency: number;
  private resolved: Promise<ResolvedS3Client> | undefined;

  constructor(uri: string, env: NodeJS.ProcessEnv = process.env) {
    const rest = uri.slice('s3://'.length);
    const slash = rest.indexOf('/');
    this.bucket = slash === -1 ? rest : rest.slice(0, slash);
    if (this.bucket === '')
      throw new RuntimeError('CONFIG_INVALID', `"${uri}" has no bucket (s3://<bucket>/<prefix>)`);
    let prefix = slash === -1 ? '' : rest.slice(slash + 1);
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
    this.prefix = prefix;
    this.describe = uri;
    const endpoint =
      env['TENSORFLEET_S3_ENDPOINT'] || env['AWS_ENDPOINT_URL_S3'] || env['AWS_ENDPOINT_URL'];
    if (endpoint && !URL.canParse(endpoint))
      throw new RuntimeError('CONFIG_INVALID', `S3 endpoint "${endpoint}" is not a URL`);
    const id = env['AWS_ACCESS_KEY_ID'];
    const secret = env['AWS_SECRET_ACCESS_KEY'];
    const token = env['AWS_SESSION_TOKEN'];
    this.settings = {
      region: env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || undefined,
      endpoint: endpoint || undefined,
      forcePathStyle: !!endpoint || env['TENSORFLEET_S3_FORCE_PATH_STYLE'] === 'true',
      // As the SDK's chain does, AWS_PROFILE wins over keys in the environment.
      keys:
        id && secret && !env['AWS_PROFILE']
          ? { accessKeyId: id, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) }
          : undefined,
    };
    this.partSize = positiveInt(env, 'TENSORFLEET_S3_PART_SIZE', 8 * MiB);
    this.concurrency = positiveInt(env, 'TENSORFLEET_S3_CONCURRENCY', 4);
  }

  /** The client (built once) and the context its errors are reported in. */
  private async client(what: string): Promise<{ client: S3Client; ctx: S3ErrorContext }> {
    const ctx = {
      what,
      bucket: this.bucket,
      region: this.settings.region ?? 'us-east-1',
      endpoint: this.settings.endpoint ?? 'AWS S3',
      anonymous: false,
    };
    this.resolved ??= createS3Client(this.settings);
    // A failed set-up (a credential source that refused) is tried afresh next time.
    const resolved = await this.resolved.catch((err: unknown) => {
      this.resolved = undefined;
      throw s3Error(err, ctx);
    });
    return {
      client: resolved.client,
      ctx: { ...ctx, region: resolved.region, anonymous: resolved.anonymous },
    };
  }

  /** All pages of a ListObjectsV2 of `prefix` (with `delimiter`, one level). */
  private async listAll(
    prefix: string,
    delimiter: string | undefined,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<{ objects: _Object[]; prefixes: CommonPrefix[] }> {
    const { client, ctx } = await this.client(what);
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const objects: _Object[] = [];
    const prefixes: CommonPrefix[] = [];
    let token: string | undefined;
    do {
      const page = await client
        .send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ...(delimiter === undefined ? {} : { Delimiter: delimiter }),
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
          signal === undefined ? {} : { abortSignal: signal },
        )
        .catch((err: unknown) => {
          throw s3Error(err, ctx);
        });
      objects.push(...(page.Contents ?? []));
      prefixes.push(...(page.CommonPrefixes ?? []));
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return { objects, prefixes };
  }

  async list(signal?: AbortSignal): Promise<RemoteFile[]> {
    const { objects } = await this.listAll(
      this.prefix,
      undefined,
      `listing ${this.describe}`,
      signal,
    );
    const files = objects
      .filter((o) => o.Key !== undefined && !o.Key.endsWith('/'))
      .map((o) => ({ path: (o.Key as string).slice(this.prefix.length), size: o.Size }));
    if (files.length === 0) {
      throw statusError(
        this.describe,
        404,
        `no objects under prefix "${this.prefix}" in bucket "${this.bucket}"`,
      );
    }
    return files;
  }

  async listDirectory(path: string, signal?: AbortSignal): Promise<DirectoryEntries> {
    const prefix = path === '' ? this.prefix : `${this.prefix}${path}/`;
    const what = `listing s3://${this.bucket}/${prefix}`;
    return objectStoreDirectory('s3', this.bucket, prefix, async (p): Promise<ObjectLevel> => {
      const { objects, prefixes } = await this.listAll(p, '/', what, signal);
      return {
        names: objects.flatMap((o) => (o.Key === undefined ? [] : [o.Key])),
        prefixes: prefixes.flatMap((c) => (c.Prefix === undefined ? [] : [c.Prefix])),
      };
    });
  }

  async download(file: RemoteFile, dest: string, signal?: AbortSignal): Promise<number> {
    const key = this.prefix + file.path;
    const what = `s3://${this.bucket}/${key}`;
    const { client, ctx } = await this.client(what);
    const { GetObjectCommand, HeadObjectCommand } = await import('@aws-sdk/client-s3');
    const options = signal === undefined ? {} : { abortSignal: signal };
    const size =
      file.size ??
      (
        await client
          .send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), options)
          .catch((err: unknown) => {
            throw s3Error(err, ctx);
          })
      ).ContentLength ??
      0;
    // Small files in one GET; large ones in ranged parts fetched side by side.
    const parts = planParts(size, size > 2 * this.partSize ? this.partSize : Math.max(size, 1));
    const fetchPart = async (
      part: Part,
      label: string,
      partSignal: AbortSignal,
    ): Promise<Readable> => {
      const res = await client
        .send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Range: `bytes=${part.start}-${part.end}`,
          }),
          { abortSignal: partSignal },
        )
        .catch((err: unknown) => {
          throw s3Error(err, { ...ctx, what: label });
        });
      const body = res.Body as Readable | undefined;
      const total = /\/(\d+)$/.exec(res.ContentRange ?? '')?.[1];
      if (total !== undefined && Number(total) !== size) {
        body?.destroy();
        throw new FetchError(
          'FETCH_SIZE_MISMATCH',
          `${label}: the object is now ${total} bytes but the listing said ${size} (it changed during the download)`,
          true,
        );
      }
      if (body === undefined)
        throw new FetchError('FETCH_FAILED', `${label}: empty response`, true);
      return body;
    };
    return downloadParts({
      file: dest,
      what,
      parts,
      concurrency: this.concurrency,
      signal,
      fetchPart,
    });
  }
}
