// A loopback Hugging Face Hub for tests: the endpoints the hf:// source uses,
// answering as huggingface.co does (shapes from huggingface_hub's client and
// the Hub API docs): GET /api/models/<repo>/revision/<rev> (model info with the
// commit sha), GET /api/models/<repo>/tree/<rev>[/<path>]?recursive= (entries
// {type, oid, size, path, lfs?}, paginated by a Link rel="next" header), and
// GET /<repo>/resolve/<rev>/<file> (files kept in git answered directly, LFS
// files redirected to a second "CDN" server on another loopback address).
// Errors carry X-Error-Code / X-Error-Message: 401 RepoNotFound for a missing
// or private repository without a token, 404 with one; 401/403 GatedRepo; 401
// "Invalid credentials in Authorization header" for an unknown token; 404
// RevisionNotFound and EntryNotFound; 429 with Retry-After and RateLimit.

import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';

export interface HubRepo {
  /** Branches and tags: name -> commit sha. */
  refs: Map<string, string>;
  /** Commits: sha -> files (path -> content). */
  commits: Map<string, Map<string, Buffer>>;
  private?: boolean;
  gated?: boolean;
  /** Files at least this large are LFS files (served from the CDN). */
  lfsThreshold: number;
}

export interface HubServer {
  endpoint: string;
  cdn: string;
  repos: Map<string, HubRepo>;
  /** token -> repositories it may read (private ones, and gated ones it was granted). */
  tokens: Map<string, Set<string>>;
  /** Entries per tree page (small, to exercise pagination). */
  pageSize: number;
  /** The next n API answers are 429s. */
  rateLimit: { remaining: number; retryAfter: number };
  /** Paths whose CDN answers are corrupted (same size, other bytes). */
  corrupt: Set<string>;
  /** Renamed repositories: old id -> new id (answered with a relative 307, as the Hub does). */
  renamed: Map<string, string>;
  /** Every request either server saw: host, url, authorization header. */
  seen: { server: 'hub' | 'cdn'; url: string; auth: string | undefined }[];
  /** Adds a commit with `files` to `repo` and moves `branch` to it; returns its sha. */
  push(repo: string, branch: string, files: Record<string, Buffer | string>): string;
  close(): Promise<void>;
}

function gitBlobSha1(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function listen(server: Server, host: string): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, host, () => {
      const addr = server.address();
      resolve(`http://${host}:${typeof addr === 'object' && addr !== null ? addr.port : 0}`);
    }),
  );
}

function fail(res: ServerResponse, status: number, code: string | undefined, message: string) {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-error-message': message,
  };
  if (code !== undefined) headers['x-error-code'] = code;
  res.writeHead(status, headers).end(JSON.stringify({ error: message }));
}

export async function startHub(): Promise<HubServer> {
  const cdnObjects = new Map<string, Buffer>();
  const hub: Omit<HubServer, 'endpoint' | 'cdn' | 'close'> = {
    repos: new Map(),
    tokens: new Map(),
    pageSize: 1000,
    rateLimit: { remaining: 0, retryAfter: 1 },
    corrupt: new Set(),
    renamed: new Map(),
    seen: [],
    push(repo, branch, files) {
      let r = hub.repos.get(repo);
      if (r === undefined) {
        r = { refs: new Map(), commits: new Map(), lfsThreshold: 64 };
        hub.repos.set(repo, r);
      }
      const sha = randomBytes(20).toString('hex');
      r.commits.set(
        sha,
        new Map(
          Object.entries(files).map(([p, c]) => [p, Buffer.isBuffer(c) ? c : Buffer.from(c)]),
        ),
      );
      r.refs.set(branch, sha);
      return sha;
    },
  };

  /** The repository a request may read, or undefined after answering the refusal. */
  function access(req: IncomingMessage, res: ServerResponse, repoId: string): HubRepo | undefined {
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
    const grants = token === undefined ? undefined : hub.tokens.get(token);
    if (token !== undefined && grants === undefined) {
      fail(res, 401, undefined, 'Invalid credentials in Authorization header');
      return undefined;
    }
    const repo = hub.repos.get(repoId);
    if (repo === undefined || (repo.private && !grants?.has(repoId))) {
      fail(res, token === undefined ? 401 : 404, 'RepoNotFound', 'Repository not found');
      return undefined;
    }
    if (repo.gated && !grants?.has(repoId)) {
      if (token === undefined) {
        fail(
          res,
          401,
          'GatedRepo',
          `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
        );
      } else {
        fail(
          res,
          403,
          'GatedRepo',
          `Access to model ${repoId} is restricted and you are not in the authorized list. Visit https://huggingface.co/${repoId} to ask for access.`,
        );
      }
      return undefined;
    }
    return repo;
  }

  function commitOf(repo: HubRepo, rev: string): string | undefined {
    if (repo.commits.has(rev)) return rev;
    return repo.refs.get(rev);
  }

  function treeEntries(files: Map<string, Buffer>, dir: string, recursive: boolean, lfsAt: number) {
    const prefix = dir === '' ? '' : `${dir}/`;
    const dirs = new Set<string>();
    const out: object[] = [];
    for (const [path, content] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length).split('/');
      // Directories on the way, each listed once (all levels when recursive).
      for (let i = 1; i < rest.length && (recursive || i === 1); i++) {
        const d = prefix + rest.slice(0, i).join('/');
        if (!dirs.has(d)) {
          dirs.add(d);
          out.push({
            type: 'directory',
            oid: sha256(Buffer.from(d)).slice(0, 40),
            size: 0,
            path: d,
          });
        }
      }
      if (rest.length > 1 && !recursive) continue;
      const entry: Record<string, unknown> = {
        type: 'file',
        oid: gitBlobSha1(content),
        size: content.length,
        path,
      };
      if (content.length >= lfsAt)
        entry['lfs'] = { oid: sha256(content), size: content.length, pointerSize: 134 };
      out.push(entry);
    }
    return out;
  }

  let endpoint = '';
  let cdn = '';
  const server = createServer((req, res) => {
    hub.seen.push({ server: 'hub', url: req.url ?? '', auth: req.headers.authorization });
    const url = new URL(req.url ?? '/', endpoint);
    if (hub.rateLimit.remaining > 0) {
      hub.rateLimit.remaining--;
      res.setHeader('retry-after', String(hub.rateLimit.retryAfter));
      res.setHeader('ratelimit', `"api";r=0;t=${hub.rateLimit.retryAfter}`);
      fail(res, 429, undefined, 'You have exceeded our hourly quotas for action: api');
      return;
    }
    const segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
    const repoAt = segments[0] === 'api' ? 2 : 0;
    const moved = hub.renamed.get(`${segments[repoAt]}/${segments[repoAt + 1]}`);
    if (moved !== undefined) {
      const parts = url.pathname.split('/');
      parts.splice(repoAt + 1, 2, ...moved.split('/'));
      res.writeHead(307, { location: `${parts.join('/')}${url.search}` }).end();
      return;
    }
    if (segments[0] === 'api' && segments[1] === 'models') {
      const repoId = `${segments[2]}/${segments[3]}`;
      const repo = access(req, res, repoId);
      if (repo === undefined) return;
      const rev = segments[5] ?? '';
      const sha = commitOf(repo, rev);
      if (sha === undefined) {
        fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
        return;
      }
      if (segments[4] === 'revision') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            _id: 'x',
            id: repoId,
            modelId: repoId,
            sha,
            private: !!repo.private,
            gated: repo.gated ? 'manual' : false,
            siblings: [],
          }),
        );
        return;
      }
      if (segments[4] === 'tree') {
        const dir = segments.slice(6).join('/').replace(/\/$/, '');
        const files = repo.commits.get(sha)!;
        if (dir !== '' && ![...files.keys()].some((p) => p.startsWith(`${dir}/`))) {
          fail(res, 404, 'EntryNotFound', `${dir} does not exist on "${rev}"`);
          return;
        }
        const all = treeEntries(
          files,
          dir,
          url.searchParams.get('recursive') === 'true',
          repo.lfsThreshold,
        );
        const cursor = Number(url.searchParams.get('cursor') ?? '0');
        const page = all.slice(cursor, cursor + hub.pageSize);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (cursor + hub.pageSize < all.length) {
          const next = new URL(url);
          next.searchParams.set('cursor', String(cursor + hub.pageSize));
          headers['link'] = `<${next.href}>; rel="next"`;
        }
        res.writeHead(200, headers).end(JSON.stringify(page));
        return;
      }
    }
    if (segments[2] === 'resolve') {
      const repoId = `${segments[0]}/${segments[1]}`;
      const repo = access(req, res, repoId);
      if (repo === undefined) return;
      const rev = segments[3] ?? '';
      const sha = commitOf(repo, rev);
      if (sha === undefined) {
        fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
        return;
      }
      const path = segments.slice(4).join('/');
      const content = repo.commits.get(sha)!.get(path);
      if (content === undefined) {
        fail(res, 404, 'EntryNotFound', 'Entry not found');
        return;
      }
      const common = { 'x-repo-commit': sha, 'content-type': 'application/octet-stream' };
      if (content.length < repo.lfsThreshold) {
        res
          .writeHead(200, {
            ...common,
            etag: `"${gitBlobSha1(content)}"`,
            'content-length': String(content.length),
          })
          .end(content);
        return;
      }
      const key = `${sha256(content)}`;
      cdnObjects.set(
        key,
        hub.corrupt.has(path) ? Buffer.from(content.map((b) => b ^ 0xff)) : content,
      );
      res
        .writeHead(302, {
          ...common,
          location: `${cdn}/repos/${key}?X-Amz-Signature=${randomBytes(8).toString('hex')}`,
          'x-linked-etag': `"${key}"`,
          'x-linked-size': String(content.length),
        })
        .end();
      return;
    }
    fail(res, 404, undefined, 'Not Found');
  });
  const cdnServer = createServer((req, res) => {
    hub.seen.push({ server: 'cdn', url: req.url ?? '', auth: req.headers.authorization });
    const key = /^\/repos\/([0-9a-f]{64})\?X-Amz-Signature=/.exec(req.url ?? '')?.[1];
    const body = key === undefined ? undefined : cdnObjects.get(key);
    if (body === undefined) {
      res
        .writeHead(403, { 'content-type': 'application/xml' })
        .end('<Error><Code>AccessDenied</Code></Error>');
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  endpoint = await listen(server, '127.0.0.1');
  // Another loopback address, as the CDN is another host.
  cdn = await listen(cdnServer, '127.0.0.2');
  return Object.assign(hub as HubServer, {
    endpoint,
    cdn,
    close: async () => {
      await Promise.all([server, cdnServer].map((s) => new Promise((resolve) => s.close(resolve))));
    },
  });
}
