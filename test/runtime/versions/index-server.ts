// A static file server on loopback with directory index pages, as nginx serves
// a model store with `autoindex on` (HTML, with a parent link and Apache-style
// sort links thrown in) or `autoindex_format json`. Paths under /private/
// answer 403; `failNext` answers the next requests 503.

import type { Server } from 'node:http';
import { createServer } from 'node:http';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, normalize } from 'node:path';

export interface IndexServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** Paths requested, in order. */
  readonly requests: string[];
  /** Answer this many next requests with 503. */
  failNext: number;
  stop(): Promise<void>;
}

function htmlIndex(path: string, names: { name: string; dir: boolean }[]): string {
  const links = names
    .map(({ name, dir }) => {
      const href = encodeURIComponent(name) + (dir ? '/' : '');
      return `<a href="${href}">${name}${dir ? '/' : ''}</a>                 07-Dec-2026 17:00       -`;
    })
    .join('\n');
  return `<html>\n<head><title>Index of ${path}</title></head>\n<body>\n<h1>Index of ${path}</h1><hr><pre><a href="?C=N;O=D">Name</a>\n<a href="../">../</a>\n${links}\n</pre><hr></body>\n</html>\n`;
}

export async function startIndexServer(
  root: string,
  format: 'html' | 'json' = 'html',
): Promise<IndexServer> {
  const requests: string[] = [];
  const state = { failNext: 0 };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    void (async () => {
      if (state.failNext > 0) {
        state.failNext--;
        res.writeHead(503).end('busy');
        return;
      }
      if (path.startsWith('/private/')) {
        res.writeHead(403).end('forbidden');
        return;
      }
      const file = join(root, normalize(path));
      let st;
      try {
        st = await stat(file);
      } catch {
        res.writeHead(404).end('<html><body>404 Not Found</body></html>');
        return;
      }
      if (st.isDirectory() && !path.endsWith('/')) {
        res.writeHead(301, { location: `${path}/` }).end();
        return;
      }
      if (st.isFile()) {
        if (path.endsWith('/')) {
          res.writeHead(404).end('<html><body>404 Not Found</body></html>');
          return;
        }
        const data = await readFile(file);
        res.writeHead(200, { 'content-length': data.length }).end(data);
        return;
      }
      const names = (await readdir(file, { withFileTypes: true }))
        .map((e) => ({ name: e.name, dir: e.isDirectory() }))
        .sort((a, b) => (a.name < b.name ? -1 : 1));
      if (format === 'json') {
        const body = JSON.stringify(
          names.map(({ name, dir }) => ({
            name,
            type: dir ? 'directory' : 'file',
            mtime: 'Mon, 07 Dec 2026 17:00:00 GMT',
          })),
        );
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' }).end(htmlIndex(path, names));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
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
