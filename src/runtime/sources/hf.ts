// hf://<org>/<repo>[@<revision>]/<path> model sources: a directory of a model
// repository on the Hugging Face Hub, through its HTTP API. The revision is
// resolved to a commit once (GET /api/models/<repo>/revision/<rev>) and every
// listing (/api/models/<repo>/tree/<commit>/<path>) and download
// (/<repo>/resolve/<commit>/<file>) names that commit, so a branch that moves
// during a download cannot mix two revisions. Each file is checked against the
// listing: its size, and its LFS sha256 or, for a file kept in git, its git
// blob sha1. Environment: HF_TOKEN (or HUGGING_FACE_HUB_TOKEN), HF_ENDPOINT
// (default https://huggingface.co, for mirrors and private Hubs).

import type { Hash } from 'node:crypto';
import { createHash } from 'node:crypto';
import { RuntimeError } from '../errors.js';
import { FetchError, readText, saveBody, statusError } from './download.js';
import type { HubContext } from './hf-hub.js';
import { hubError, hubGet } from './hf-hub.js';
import type { HfLocation } from './hf-uri.js';
import { parseHfUri } from './hf-uri.js';
import type { DirectoryEntries, DirectoryLister, ModelSource, RemoteFile } from './source.js';

/** One entry of the Hub's tree listing. */
interface TreeEntry {
  type: 'file' | 'directory';
  path: string;
  size?: number;
  /** Git object id (sha1 of the blob for a file). */
  oid?: string;
  lfs?: { oid: string; size: number };
}

/** How a downloaded file is checked: its size and one digest. */
interface Expected {
  size: number | undefined;
  algorithm: 'sha256' | 'git-blob-sha1' | undefined;
  digest: string | undefined;
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function join(a: string, b: string): string {
  return a === '' ? b : b === '' ? a : `${a}/${b}`;
}

/** The URL of rel="next" in a Link header, or undefined. */
export function nextLink(header: string | null): string | undefined {
  for (const part of (header ?? '').split(',')) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (m && /(^|;)\s*rel\s*=\s*"?next"?\s*(;|$)/.test(m[2] ?? '')) return m[1];
  }
  return undefined;
}

export class HfSource implements ModelSource, DirectoryLister {
  readonly describe: string;
  private readonly loc: HfLocation;
  private readonly endpoint: string;
  private readonly origin: string;
  private readonly token: string | undefined;
  private commit: Promise<string> | undefined;
  private readonly expected = new Map<string, Expected>();

  constructor(uri: string, env: NodeJS.ProcessEnv = process.env) {
    this.loc = parseHfUri(uri);
    this.describe = uri;
    this.endpoint = (env['HF_ENDPOINT'] || 'https://huggingface.co').replace(/\/+$/, '');
    if (!URL.canParse(this.endpoint) || !/^https?:$/.test(new URL(this.endpoint).protocol)) {
      throw new RuntimeError(
        'CONFIG_INVALID',
        `HF_ENDPOINT "${this.endpoint}" is not an http(s) URL (e.g. https://huggingface.co)`,
      );
    }
    this.origin = new URL(this.endpoint).origin;
    this.token = env['HF_TOKEN'] || env['HUGGING_FACE_HUB_TOKEN'] || undefined;
  }

  private ctx(path?: string): HubContext {
    return {
      repo: this.loc.repo,
      revision: this.loc.revision,
      token: this.token !== undefined,
      ...(path === undefined ? {} : { path }),
    };
  }

  /**
   * A Hub API answer's JSON. `entryMissing` makes the error for a path the Hub
   * does not find (EntryNotFound), when the caller can say more than the Hub.
   */
  private async getJson<T>(
    url: string,
    what: string,
    path: string | undefined,
    signal: AbortSignal | undefined,
    entryMissing?: () => Promise<FetchError>,
  ): Promise<{ json: T; res: Response }> {
    const res = await hubGet(url, this.origin, this.token, what, signal);
    if (!res.ok) {
      if (entryMissing && res.headers.get('x-error-code') === 'EntryNotFound') {
        await res.body?.cancel();
        throw await entryMissing();
      }
      throw await hubError(res, what, this.ctx(path));
    }
    const text = await readText(res);
    try {
      return { json: JSON.parse(text) as T, res };
    } catch {
      throw new FetchError('FETCH_FAILED', `${what}: the Hub's answer is not JSON`, true);
    }
  }

  /** The commit the revision names, resolved once for the life of this source. */
  private resolveCommit(signal?: AbortSignal): Promise<string> {
    this.commit ??= (async () => {
      const what = `resolving revision "${this.loc.revision}" of ${this.loc.repo}`;
      const url = `${this.endpoint}/api/models/${this.loc.repo}/revision/${encodeURIComponent(this.loc.revision)}`;
      const { json } = await this.getJson<{ sha?: unknown }>(url, what, undefined, signal);
      if (typeof json.sha !== 'string' || !/^[0-9a-f]{40}$/.test(json.sha))
        throw new FetchError('FETCH_FAILED', `${what}: the answer has no commit sha`, true);
      return json.sha;
    })();
    // A failed resolution is retried afresh, not answered from the cache.
    this.commit.catch(() => (this.commit = undefined));
    return this.commit;
  }

  /** Every entry of the tree listing of `path` at `commit` (following its pages). */
  private async tree(
    commit: string,
    path: string,
    recursive: boolean,
    signal?: AbortSignal,
    entryMissing?: () => Promise<FetchError>,
  ): Promise<TreeEntry[]> {
    const what = `listing ${this.describe} (commit ${commit.slice(0, 12)})`;
    let url: string | undefined =
      `${this.endpoint}/api/models/${this.loc.repo}/tree/${commit}${path === '' ? '' : `/${encodePath(path)}`}?recursive=${recursive}&expand=false`;
    const entries: TreeEntry[] = [];
    while (url !== undefined) {
      const { json, res } = await this.getJson<unknown>(url, what, path, signal, entryMissing);
      if (!Array.isArray(json))
        throw new FetchError('FETCH_FAILED', `${what}: the tree listing is not a list`, true);
      for (const e of json as Partial<TreeEntry>[]) {
        if ((e.type === 'file' || e.type === 'directory') && typeof e.path === 'string')
          entries.push(e as TreeEntry);
      }
      const next = nextLink(res.headers.get('link'));
      url = next === undefined ? undefined : new URL(next, url).href;
    }
    return entries;
  }

  /** FETCH_NOT_FOUND for a directory `path` that lists nothing: missing, or a file. */
  private async notADirectory(commit: string, path: string, signal?: AbortSignal) {
    const where = `${this.loc.repo} at revision "${this.loc.revision}" (commit ${commit.slice(0, 12)})`;
    if (path !== '') {
      const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
      let siblings: TreeEntry[] = [];
      try {
        siblings = await this.tree(commit, parent, false, signal);
      } catch (err) {
        if (!(err instanceof FetchError && err.code === 'FETCH_NOT_FOUND')) throw err;
      }
      if (siblings.some((e) => e.path === path && e.type === 'file'))
        return new FetchError(
          'FETCH_NOT_FOUND',
          `${path} is a file in ${where}, not a directory`,
          false,
        );
      return new FetchError('FETCH_NOT_FOUND', `path "${path}" not found in ${where}`, false);
    }
    return new FetchError('FETCH_NOT_FOUND', `${where} has no files`, false);
  }

  /** The tree of `path`, or the precise FETCH_NOT_FOUND when it is no directory. */
  private async directory(commit: string, path: string, recursive: boolean, signal?: AbortSignal) {
    const entries = await this.tree(commit, path, recursive, signal, () =>
      this.notADirectory(commit, path, signal),
    );
    // Asked for a file, a listing may answer with that file alone.
    if (entries.length === 0 || entries.every((e) => e.path === path))
      throw await this.notADirectory(commit, path, signal);
    return entries;
  }

  async list(signal?: AbortSignal): Promise<RemoteFile[]> {
    const commit = await this.resolveCommit(signal);
    const dir = this.loc.path;
    const prefix = dir === '' ? '' : `${dir}/`;
    const files: RemoteFile[] = [];
    for (const e of await this.directory(commit, dir, true, signal)) {
      if (e.type !== 'file' || !e.path.startsWith(prefix)) continue;
      const size = e.lfs?.size ?? e.size;
      const path = e.path.slice(prefix.length);
      files.push({ path, size });
      this.expected.set(path, {
        size,
        algorithm: e.lfs ? 'sha256' : e.oid ? 'git-blob-sha1' : undefined,
        digest: e.lfs ? e.lfs.oid : e.oid,
      });
    }
    if (files.length === 0) throw await this.notADirectory(commit, dir, signal);
    return files;
  }

  async listDirectory(path: string, signal?: AbortSignal): Promise<DirectoryEntries> {
    const commit = await this.resolveCommit(signal);
    const dir = join(this.loc.path, path);
    const prefix = dir === '' ? '' : `${dir}/`;
    const entries: DirectoryEntries = { files: [], directories: [] };
    for (const e of await this.directory(commit, dir, false, signal)) {
      const name = e.path.startsWith(prefix) ? e.path.slice(prefix.length) : '';
      if (name === '' || name.includes('/')) continue;
      (e.type === 'file' ? entries.files : entries.directories).push(name);
    }
    return entries;
  }

  async download(file: RemoteFile, dest: string, signal?: AbortSignal): Promise<number> {
    const commit = await this.resolveCommit(signal);
    const path = join(this.loc.path, file.path);
    const what = `hf://${this.loc.repo}@${commit.slice(0, 12)}/${path}`;
    const url = `${this.endpoint}/${this.loc.repo}/resolve/${commit}/${encodePath(path)}`;
    const res = await hubGet(url, this.origin, this.token, what, signal);
    if (!res.ok) {
      // An error from the CDN a file was redirected to is no Hub error.
      const from = new URL(res.url || url).origin;
      if (from !== this.origin)
        throw statusError(`${what} (from ${from})`, res.status, await readText(res));
      throw await hubError(res, what, this.ctx(path));
    }
    const expected = this.expected.get(file.path);
    const size = file.size ?? expected?.size;
    let hash: Hash | undefined;
    if (expected?.algorithm === 'sha256') hash = createHash('sha256');
    else if (expected?.algorithm === 'git-blob-sha1' && size !== undefined)
      hash = createHash('sha1').update(`blob ${size}\0`);
    const bytes = await saveBody(res, dest, what, size, hash && ((c) => hash.update(c)));
    if (hash !== undefined && expected?.digest !== undefined) {
      const actual = hash.digest('hex');
      if (actual !== expected.digest) {
        const name = expected.algorithm === 'sha256' ? 'LFS sha256' : 'git blob sha1';
        throw new FetchError(
          'FETCH_CHECKSUM_MISMATCH',
          `${what}: the ${name} of the download is ${actual} but the Hub lists ${expected.digest} (corrupted in transit or by a proxy)`,
          true,
        );
      }
    }
    return bytes;
  }
}
