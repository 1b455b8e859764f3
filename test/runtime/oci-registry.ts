// A real OCI registry on loopback for tests: CNCF distribution's binary (built
// by tools/cluster/build.sh) on a free port with its own storage directory,
// artifacts pushed with plain calls of the distribution API, and a "front"
// server the tests put before it: auth (a Bearer token realm, or Basic) and
// tampering with answers (to see digest checks fail).

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ensureBinaries } from '../../src/localcluster/index.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string };
}

export interface Registry {
  /** host:port */
  host: string;
  url: string;
  stop(): Promise<void>;
}

export function digestOf(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

export async function startRegistry(): Promise<Registry> {
  const binary = (await ensureBinaries()).binaries.registry;
  const dir = await mkdtemp(join(tmpdir(), 'tensorfleet-oci-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: { level: error, accesslog: { disabled: true } }',
      `storage: { filesystem: { rootdirectory: ${JSON.stringify(join(dir, 'data'))} } }`,
      `http: { addr: 127.0.0.1:${port} }`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(binary, ['serve', config], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/v2/`)).ok) break;
    } catch {
      if (i > 200 || child.exitCode !== null) throw new Error(`registry did not start on ${url}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      if (child.exitCode === null) child.kill();
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Uploads a blob (POST then PUT ?digest=); returns its descriptor. */
export async function pushBlob(
  registry: Registry,
  repo: string,
  data: Buffer,
  mediaType = 'application/octet-stream',
  annotations?: Record<string, string>,
): Promise<Descriptor> {
  const digest = digestOf(data);
  const start = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`upload start: HTTP ${start.status}`);
  const location = new URL(start.headers.get('location') ?? '', registry.url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    body: data,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (put.status !== 201) throw new Error(`upload: HTTP ${put.status} ${await put.text()}`);
  return { mediaType, digest, size: data.length, ...(annotations ? { annotations } : {}) };
}

/** PUTs a manifest or index under `ref` (a tag or its digest); returns its descriptor. */
export async function pushManifest(
  registry: Registry,
  repo: string,
  ref: string,
  manifest: object,
  mediaType = OCI_MANIFEST,
): Promise<Descriptor> {
  const body = Buffer.from(JSON.stringify(manifest));
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    body,
    headers: { 'content-type': mediaType },
  });
  if (res.status !== 201) throw new Error(`manifest: HTTP ${res.status} ${await res.text()}`);
  return { mediaType, digest: digestOf(body), size: body.length };
}

/** An image manifest of `layers`, with the empty config ORAS uses for artifacts. */
export async function pushImage(
  registry: Registry,
  repo: string,
  tag: string,
  layers: Descriptor[],
): Promise<Descriptor> {
  const config = await pushBlob(registry, repo, Buffer.from('{}'), OCI_EMPTY_CONFIG);
  return pushManifest(registry, repo, tag, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config,
    layers,
  });
}

/** An ORAS-style artifact: one layer per file, titled with its name. */
export async function pushFiles(
  registry: Registry,
  repo: string,
  tag: string,
  files: Record<string, Buffer>,
): Promise<Descriptor> {
  const layers: Descriptor[] = [];
  for (const [name, data] of Object.entries(files)) {
    layers.push(
      await pushBlob(registry, repo, data, 'application/octet-stream', {
        'org.opencontainers.image.title': name,
      }),
    );
  }
  return pushImage(registry, repo, tag, layers);
}

export interface FrontOptions {
  /** Require auth: a Bearer token from /token (asked with these Basic credentials), or Basic itself. */
  auth?: { scheme: 'bearer' | 'basic'; username: string; password: string };
  /** Rewrites an answer of the registry: its body and headers. */
  tamper?: (path: string, body: Buffer, headers: Headers) => Buffer;
}

export interface Front {
  host: string;
  /** Authorization headers the token realm received (undefined: none). */
  tokenRequests: (string | undefined)[];
  stop(): Promise<void>;
}

/** A loopback server before `registry`: optional auth, optional tampering. */
export async function startFront(registry: Registry, opts: FrontOptions): Promise<Front> {
  const token = 'test-token-1';
  const tokenRequests: (string | undefined)[] = [];
  let origin = '';
  const basic = (u: string, p: string): string =>
    `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', origin);
    const auth = opts.auth;
    if (url.pathname === '/token') {
      tokenRequests.push(req.headers.authorization);
      if (auth === undefined || req.headers.authorization !== basic(auth.username, auth.password)) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"details":"invalid username or password"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token, scope: url.searchParams.get('scope') }));
      return;
    }
    if (auth !== undefined) {
      const expected =
        auth.scheme === 'bearer' ? `Bearer ${token}` : basic(auth.username, auth.password);
      if (req.headers.authorization !== expected) {
        const repo = /^\/v2\/(.+)\/(manifests|blobs)\//.exec(url.pathname)?.[1] ?? '';
        const challenge =
          auth.scheme === 'bearer'
            ? `Bearer realm="${origin}/token",service="test-registry",scope="repository:${repo}:pull"`
            : 'Basic realm="test-registry"';
        res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
    }
    const headers: Record<string, string> = {};
    if (req.headers.accept !== undefined) headers['accept'] = req.headers.accept;
    const upstream = await fetch(`${registry.url}${url.pathname}${url.search}`, { headers });
    let body: Buffer = Buffer.from(await upstream.arrayBuffer());
    const out = new Headers(upstream.headers);
    if (opts.tamper) body = opts.tamper(url.pathname, body, out);
    out.set('content-length', String(body.length));
    out.delete('content-encoding');
    out.delete('transfer-encoding');
    res.writeHead(upstream.status, Object.fromEntries(out));
    res.end(body);
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    host: `127.0.0.1:${port}`,
    tokenRequests,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}
