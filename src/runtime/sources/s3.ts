// s3://bucket/prefix model sources: AWS S3 or any S3-compatible store.
// Environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
// (anonymous when unset), AWS_REGION / AWS_DEFAULT_REGION (default us-east-1),
// and an endpoint override TENSORFLEET_S3_ENDPOINT, AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL (which switches to path-style addressing).

import { RuntimeError } from '../errors.js';
import type { AwsCredentials } from './sigv4.js';
import { signGet, uriEncode } from './sigv4.js';
import { readText, request, saveBody, statusError } from './download.js';
import type { ObjectLevel } from './object-store-directory.js';
import { objectStoreDirectory } from './object-store-directory.js';
import type { DirectoryEntries, DirectoryLister, ModelSource, RemoteFile } from './source.js';

function xmlDecode(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_m, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/g, '&');
}

function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m?.[1] === undefined ? undefined : xmlDecode(m[1]);
}

export class S3Source implements ModelSource, DirectoryLister {
  readonly describe: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly region: string;
  private readonly endpoint: URL;
  private readonly pathStyle: boolean;
  private readonly creds: AwsCredentials | undefined;

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
    this.region = env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || 'us-east-1';
    const override =
      env['TENSORFLEET_S3_ENDPOINT'] || env['AWS_ENDPOINT_URL_S3'] || env['AWS_ENDPOINT_URL'];
    this.pathStyle = override !== undefined || env['TENSORFLEET_S3_FORCE_PATH_STYLE'] === 'true';
    this.endpoint = new URL(override ?? `https://s3.${this.region}.amazonaws.com`);
    const id = env['AWS_ACCESS_KEY_ID'];
    const secret = env['AWS_SECRET_ACCESS_KEY'];
    this.creds =
      id && secret
        ? { accessKeyId: id, secretAccessKey: secret, sessionToken: env['AWS_SESSION_TOKEN'] }
        : undefined;
  }

  private url(key: string, query: Record<string, string> = {}): URL {
    const base = this.endpoint.href.replace(/\/$/, '');
    const encodedKey = uriEncode(key, true);
    const url = this.pathStyle
      ? new URL(`${base}/${this.bucket}${key === '' ? '' : `/${encodedKey}`}`)
      : new URL(`${this.endpoint.protocol}//${this.bucket}.${this.endpoint.host}/${encodedKey}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }

  private headers(url: URL): Record<string, string> {
    return this.creds === undefined ? {} : signGet(url, this.region, this.creds);
  }

  /** One ListObjectsV2 page: its XML, or the listing's precise error. */
  private async listPage(
    query: Record<string, string>,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const url = this.url('', { 'list-type': '2', ...query });
    const res = await request(
      url.href,
      { headers: this.headers(url), ...(signal === undefined ? {} : { signal }) },
      what,
    );
    const body = await readText(res);
    if (!res.ok) {
      const code = tag(body, 'Code');
      if (res.status === 404 && code === 'NoSuchBucket')
        throw statusError(`bucket "${this.bucket}"`, 404, 'NoSuchBucket');
      throw statusError(
        what,
        res.status,
        code === undefined ? body : `${code}: ${tag(body, 'Message') ?? ''}`,
      );
    }
    return body;
  }

  async list(signal?: AbortSignal): Promise<RemoteFile[]> {
    const files: RemoteFile[] = [];
    let token: string | undefined;
    do {
      const query: Record<string, string> = { prefix: this.prefix };
      if (token !== undefined) query['continuation-token'] = token;
      const body = await this.listPage(query, `listing ${this.describe}`, signal);
      for (const m of body.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
        const key = tag(m[1] ?? '', 'Key');
        const size = tag(m[1] ?? '', 'Size');
        if (key === undefined || key.endsWith('/')) continue;
        files.push({
          path: key.slice(this.prefix.length),
          size: size === undefined ? undefined : Number(size),
        });
      }
      token = tag(body, 'IsTruncated') === 'true' ? tag(body, 'NextContinuationToken') : undefined;
    } while (token !== undefined);
    if (files.length === 0) {
      throw statusError(
        `${this.describe}`,
        404,
        `no objects under prefix "${this.prefix}" in bucket "${this.bucket}"`,
      );
    }
    return files;
  }

  /** Keys and common prefixes directly under `prefix` (ListObjectsV2 with delimiter "/"). */
  private async listLevel(
    prefix: string,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<ObjectLevel> {
    const names: string[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      const query: Record<string, string> = { prefix, delimiter: '/' };
      if (token !== undefined) query['continuation-token'] = token;
      const body = await this.listPage(query, what, signal);
      for (const m of body.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
        const key = tag(m[1] ?? '', 'Key');
        if (key !== undefined) names.push(key);
      }
      for (const m of body.matchAll(/<CommonPrefixes>([\s\S]*?)<\/CommonPrefixes>/g)) {
        const common = tag(m[1] ?? '', 'Prefix');
        if (common !== undefined) prefixes.push(common);
      }
      token = tag(body, 'IsTruncated') === 'true' ? tag(body, 'NextContinuationToken') : undefined;
    } while (token !== undefined);
    return { names, prefixes };
  }

  async listDirectory(path: string, signal?: AbortSignal): Promise<DirectoryEntries> {
    const prefix = path === '' ? this.prefix : `${this.prefix}${path}/`;
    const what = `listing s3://${this.bucket}/${prefix}`;
    return objectStoreDirectory('s3', this.bucket, prefix, (p) => this.listLevel(p, what, signal));
  }

  async download(file: RemoteFile, dest: string, signal?: AbortSignal): Promise<number> {
    const url = this.url(this.prefix + file.path);
    const what = `s3://${this.bucket}/${this.prefix}${file.path}`;
    const res = await request(
      url.href,
      { headers: this.headers(url), ...(signal === undefined ? {} : { signal }) },
      what,
    );
    if (!res.ok) throw statusError(what, res.status, await readText(res));
    return saveBody(res, dest, what, file.size);
  }
}
