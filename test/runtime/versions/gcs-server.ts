// The Cloud Storage JSON API on loopback, over a directory on disk (each file an
// object named by its path): objects list with prefix, delimiter and pages of
// `pageSize` entries, object metadata, alt=media downloads. With a token, a
// request without "Bearer <token>" answers 401 as GCS does.

import type { Server } from 'node:http';
import { createServer } from 'node:http';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

export interface GcsServer {
  /** http://127.0.0.1:<port>, for TENSORFLEET_GCS_ENDPOINT */
  readonly endpoint: string;
  /** Request URLs, in order. */
  readonly requests: string[];
  /** Answer this many next requests with 503. */
  failNext: number;
  stop(): Promise<void>;
}

function gcsError(code: number, message: string): string {
  return JSON.stringify({ error: { code, message, errors: [{ message }] } });
}

async function objectNames(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

export async function startGcs(opts: {
  root: string;
  bucket: string;
  token?: string;
  pageSize?: number;
}): Promise<GcsServer> {
  const requests: string[] = [];
  const state = { failNext: 0 };
  const pageSize = opts.pageSize ?? 2;
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    void (async () => {
      const json = (status: number, body: string): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(body);
      };
      if (state.failNext > 0) {
        state.failNext--;
        json(503, gcsError(503, 'Backend Error'));
        return;
      }
      if (opts.token !== undefined && req.headers.authorization !== `Bearer ${opts.token}`) {
        json(401, gcsError(401, 'Anonymous caller does not have storage.objects.list access.'));
        return;
      }
      const url = new URL(req.url ?? '/', 'http://x');
      const m = /^\/storage\/v1\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(url.pathname);
      if (m === null) {
        json(404, gcsError(404, 'Not Found'));
        return;
      }
      if (decodeURIComponent(m[1] ?? '') !== opts.bucket) {
        json(404, gcsError(404, 'The specified bucket does not exist.'));
        return;
      }
      if (m[2] !== undefined) {
        const name = decodeURIComponent(m[2]);
        const file = join(opts.root, ...name.split('/'));
        try {
          if (!(await stat(file)).isFile()) throw new Error('not a file');
        } catch {
          json(404, gcsError(404, `No such object: ${opts.bucket}/${name}`));
          return;
        }
        const data = await readFile(file);
        if (url.searchParams.get('alt') === 'media') res.writeHead(200).end(data);
        else json(200, JSON.stringify({ name, size: String(data.length) }));
        return;
      }
      const prefix = url.searchParams.get('prefix') ?? '';
      const delimiter = url.searchParams.get('delimiter');
      const items: { name: string; size: string }[] = [];
      const prefixes = new Set<string>();
      for (const name of await objectNames(opts.root)) {
        if (!name.startsWith(prefix)) continue;
        const rest = name.slice(prefix.length);
        const cut = delimiter === null ? -1 : rest.indexOf(delimiter);
        if (cut !== -1) prefixes.add(prefix + rest.slice(0, cut + 1));
        else items.push({ name, size: String((await stat(join(opts.root, name))).size) });
      }
      // One ordered sequence of objects and prefixes, cut into pages.
      const all = [
        ...items.map((item) => ({ key: item.name, item })),
        ...[...prefixes].map((p) => ({ key: p, prefix: p })),
      ].sort((a, b) => (a.key < b.key ? -1 : 1));
      const start = Number(url.searchParams.get('pageToken') ?? '0');
      const page = all.slice(start, start + pageSize);
      const body: { items?: object[]; prefixes?: string[]; nextPageToken?: string } = {};
      const pageItems = page.flatMap((e) => ('item' in e && e.item ? [e.item] : []));
      const pagePrefixes = page.flatMap((e) => ('prefix' in e && e.prefix ? [e.prefix] : []));
      if (pageItems.length > 0) body.items = pageItems;
      if (pagePrefixes.length > 0) body.prefixes = pagePrefixes;
      if (start + pageSize < all.length) body.nextPageToken = String(start + pageSize);
      json(200, JSON.stringify(body));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    get failNext() {
      return state.failNext;
    },
    set failNext(n: number) {
      state.failNext = n;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
