// gs://bucket/prefix model sources through the Cloud Storage JSON API.
// Credentials, first found: TENSORFLEET_GCS_TOKEN (an OAuth access token),
// GOOGLE_APPLICATION_CREDENTIALS (a service-account key file), the GCE/GKE
// metadata server (Workload Identity); otherwise anonymous (public buckets).
// TENSORFLEET_GCS_ENDPOINT or STORAGE_EMULATOR_HOST overrides the endpoint.

import { createSign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { RuntimeError } from '../errors.js';
import { FetchError, readText, request, saveBody, statusError } from './download.js';
import type { ObjectLevel } from './object-store-directory.js';
import { objectStoreDirectory } from './object-store-directory.js';
import type { DirectoryEntries, DirectoryLister, ModelSource, RemoteFile } from './source.js';

const SCOPE = 'https://www.googleapis.com/auth/devstorage.read_only';
const METADATA_TOKEN =
  'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token';

interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  token_uri?: string;
}

async function serviceAccountToken(path: string): Promise<string> {
  let key: ServiceAccountKey;
  try {
    key = JSON.parse(await readFile(path, 'utf8')) as ServiceAccountKey;
  } catch (err) {
    throw new RuntimeError(
      'FETCH_UNAUTHORIZED',
      `GOOGLE_APPLICATION_CREDENTIALS ${path} cannot be read: ${(err as Error).message}`,
    );
  }
  const tokenUri = key.token_uri ?? 'https://oauth2.googleapis.com/token';
  const now = Math.floor(Date.now() / 1000);
  const b64url = (obj: object): string => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const unsigned = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url({ iss: key.client_email, scope: SCOPE, aud: tokenUri, iat: now, exp: now + 3600 })}`;
  const signature = createSign('RSA-SHA256')
    .update(unsigned)
    .sign(key.private_key)
    .toString('base64url');
  const res = await request(
    tokenUri,
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: `${unsigned}.${signature}`,
      }).toString(),
    },
    'exchanging the service-account key for a token',
  );
  const body = await readText(res);
  if (!res.ok)
    throw statusError(
      'exchanging the service-account key for a token',
      res.status === 400 ? 401 : res.status,
      body,
    );
  return (JSON.parse(body) as { access_token: string }).access_token;
}

async function metadataToken(): Promise<string | undefined> {
  try {
    const res = await fetch(METADATA_TOKEN, {
      headers: { 'Metadata-Flavor': 'Google' },
      signal: AbortSignal.timeout(2000),
    });
    if (!res.ok) return undefined;
    return ((await res.json()) as { access_token?: string }).access_token;
  } catch {
    return undefined;
  }
}

export class GcsSource implements ModelSource, DirectoryLister {
  readonly describe: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly endpoint: string;
  private readonly env: NodeJS.ProcessEnv;
  private token: Promise<string | undefined> | undefined;

  constructor(uri: string, env: NodeJS.ProcessEnv = process.env) {
    const rest = uri.slice('gs://'.length);
    const slash = rest.indexOf('/');
    this.bucket = slash === -1 ? rest : rest.slice(0, slash);
    if (this.bucket === '')
      throw new RuntimeError('CONFIG_INVALID', `"${uri}" has no bucket (gs://<bucket>/<prefix>)`);
    let prefix = slash === -1 ? '' : rest.slice(slash + 1);
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
    this.prefix = prefix;
    this.describe = uri;
    this.env = env;
    const override = env['TENSORFLEET_GCS_ENDPOINT'] || env['STORAGE_EMULATOR_HOST'];
    this.endpoint = (
      override === undefined
        ? 'https://storage.googleapis.com'
        : override.includes('://')
          ? override
          : `http://${override}`
    ).replace(/\/$/, '');
  }

  private async auth(): Promise<Record<string, string>> {
    this.token ??= (async () => {
      const explicit = this.env['TENSORFLEET_GCS_TOKEN'] || this.env['GOOGLE_OAUTH_ACCESS_TOKEN'];
      if (explicit) return explicit;
      const keyFile = this.env['GOOGLE_APPLICATION_CREDENTIALS'];
      if (keyFile) return serviceAccountToken(keyFile);
      if (this.endpoint === 'https://storage.googleapis.com') return metadataToken();
      return undefined;
    })();
    const token = await this.token;
    return token === undefined ? {} : { authorization: `Bearer ${token}` };
  }

  /** One page of an objects list: its JSON, or the listing's precise error. */
  private async listPage<Page>(
    params: Record<string, string>,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<Page & { nextPageToken?: string }> {
    const url = new URL(`${this.endpoint}/storage/v1/b/${encodeURIComponent(this.bucket)}/o`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const res = await request(
      url.href,
      { headers: await this.auth(), ...(signal === undefined ? {} : { signal }) },
      what,
    );
    const body = await readText(res);
    if (!res.ok) throw statusError(what, res.status, body);
    try {
      return JSON.parse(body) as Page & { nextPageToken?: string };
    } catch {
      throw new FetchError('FETCH_FAILED', `${what}: the listing is not JSON`, true);
    }
  }

  async list(signal?: AbortSignal): Promise<RemoteFile[]> {
    const files: RemoteFile[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.listPage<{ items?: { name: string; size?: string }[] }>(
        {
          prefix: this.prefix,
          fields: 'items(name,size),nextPageToken',
          ...(pageToken === undefined ? {} : { pageToken }),
        },
        `listing ${this.describe}`,
        signal,
      );
      for (const item of page.items ?? []) {
        if (item.name.endsWith('/')) continue;
        files.push({
          path: item.name.slice(this.prefix.length),
          size: item.size === undefined ? undefined : Number(item.size),
        });
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    if (files.length === 0) {
      throw statusError(
        this.describe,
        404,
        `no objects under prefix "${this.prefix}" in bucket "${this.bucket}"`,
      );
    }
    return files;
  }

  /** Object names and prefixes directly under `prefix` (objects list with delimiter "/"). */
  private async listLevel(
    prefix: string,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<ObjectLevel> {
    const names: string[] = [];
    const prefixes: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.listPage<{ items?: { name: string }[]; prefixes?: string[] }>(
        {
          prefix,
          delimiter: '/',
          fields: 'items(name),prefixes,nextPageToken',
          ...(pageToken === undefined ? {} : { pageToken }),
        },
        what,
        signal,
      );
      for (const item of page.items ?? []) names.push(item.name);
      prefixes.push(...(page.prefixes ?? []));
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    return { names, prefixes };
  }

  async listDirectory(path: string, signal?: AbortSignal): Promise<DirectoryEntries> {
    const prefix = path === '' ? this.prefix : `${this.prefix}${path}/`;
    const what = `listing gs://${this.bucket}/${prefix}`;
    return objectStoreDirectory('gs', this.bucket, prefix, (p) => this.listLevel(p, what, signal));
  }

  async download(file: RemoteFile, dest: string, signal?: AbortSignal): Promise<number> {
    const name = this.prefix + file.path;
    const url = `${this.endpoint}/storage/v1/b/${encodeURIComponent(this.bucket)}/o/${encodeURIComponent(name)}?alt=media`;
    const what = `gs://${this.bucket}/${name}`;
    const res = await request(
      url,
      { headers: await this.auth(), ...(signal === undefined ? {} : { signal }) },
      what,
    );
    if (!res.ok) throw statusError(what, res.status, await readText(res));
    return saveBody(res, dest, what, file.size);
  }
}
