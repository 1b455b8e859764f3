// http(s):// model sources. HTTP cannot list directories, so the URI names a
// TF.js model.json (or a directory URL ending in "/", meaning <dir>/model.json)
// and the weight files are read from its weightsManifest. Versioned base paths
// list their version directories through the server's index pages
// (http-index.ts).

import { writeFile } from 'node:fs/promises';
import { RuntimeError } from '../errors.js';
import { FetchError, readText, request, saveBody, statusError } from './download.js';
import { parseDirectoryIndex } from './http-index.js';
import type { DirectoryEntries, DirectoryLister, ModelSource, RemoteFile } from './source.js';

export class HttpSource implements ModelSource, DirectoryLister {
  readonly describe: string;
  private readonly modelJsonUrl: URL;
  private modelJson: Buffer | undefined;

  constructor(uri: string) {
    const url = new URL(uri);
    this.modelJsonUrl = url.pathname.endsWith('/') ? new URL('model.json', url) : url;
    this.describe = this.modelJsonUrl.href;
  }

  async list(signal?: AbortSignal): Promise<RemoteFile[]> {
    const what = this.modelJsonUrl.href;
    const res = await request(what, signal === undefined ? {} : { signal }, what);
    if (!res.ok) throw statusError(what, res.status, await readText(res));
    const text = await readText(res);
    let json: { weightsManifest?: { paths?: unknown }[] };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      const truncated =
        res.headers.get('content-length') !== null &&
        Number(res.headers.get('content-length')) !== Buffer.byteLength(text);
      throw new FetchError(
        truncated ? 'FETCH_SIZE_MISMATCH' : 'FETCH_FAILED',
        truncated
          ? `${what}: truncated download of model.json`
          : `${what} is not a TF.js model.json (not JSON); http(s) sources must point at model.json`,
        truncated,
      );
    }
    this.modelJson = Buffer.from(text);
    const files: RemoteFile[] = [{ path: 'model.json', size: this.modelJson.length }];
    for (const group of json.weightsManifest ?? []) {
      if (!Array.isArray(group.paths)) continue;
      for (const p of group.paths) {
        if (typeof p !== 'string' || p.includes('..') || p.startsWith('/')) {
          throw new RuntimeError(
            'FETCH_FAILED',
            `${what} lists an unsafe weight path ${JSON.stringify(p)}`,
          );
        }
        files.push({ path: p, size: undefined });
      }
    }
    return files;
  }

  /** Reads the index page of `path` under the directory the URI names. */
  async listDirectory(path: string, signal?: AbortSignal): Promise<DirectoryEntries> {
    const base = new URL('./', this.modelJsonUrl);
    const dir =
      path === '' ? base : new URL(`${path.split('/').map(encodeURIComponent).join('/')}/`, base);
    const what = `listing ${dir.href}`;
    const res = await request(
      dir.href,
      {
        headers: { accept: 'text/html, application/json;q=0.9' },
        ...(signal === undefined ? {} : { signal }),
      },
      what,
    );
    const body = await readText(res);
    if (!res.ok) throw statusError(what, res.status, body);
    const entries = parseDirectoryIndex(body, res.headers.get('content-type') ?? '', dir);
    if (entries === undefined) {
      throw new FetchError(
        'FETCH_FAILED',
        `${what}: the answer is not a directory index (an HTML page of links, or nginx's autoindex_format json); serve the base path with autoindex on`,
        false,
      );
    }
    return entries;
  }

  async download(file: RemoteFile, dest: string, signal?: AbortSignal): Promise<number> {
    if (file.path === 'model.json' && this.modelJson !== undefined) {
      await writeFile(dest, this.modelJson);
      return this.modelJson.length;
    }
    const url = new URL(file.path, this.modelJsonUrl).href;
    const res = await request(url, signal === undefined ? {} : { signal }, url);
    if (!res.ok) throw statusError(url, res.status, await readText(res));
    return saveBody(res, dest, url, file.size);
  }
}
