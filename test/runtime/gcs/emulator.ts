// fake-gcs-server (github.com/fsouza/fake-gcs-server, built by tools/go-tool.sh
// fake-gcs) on 127.0.0.1, for the gs:// tests: a real Cloud Storage JSON API
// emulator, with bearer-token checks, public buckets and small listing pages
// added by tools/fake-gcs/main.go. Tests seed and change it through the same
// JSON API (uploads, deletes) with the admin token.

import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const GO_TOOL = fileURLToPath(new URL('../../../tools/go-tool.sh', import.meta.url));

/** The token the emulator always accepts, for seeding. */
export const ADMIN_TOKEN = 'fake-gcs-admin';

export interface GcsEmulatorOptions {
  /** Tokens with access; with none given only ADMIN_TOKEN has access. */
  tokens?: string[];
  /** Known tokens without access: 403. */
  deniedTokens?: string[];
  /** Buckets anyone may read without a token. */
  publicBuckets?: string[];
  /** Page size of object listings, so a few objects exercise pagination. */
  maxResults?: number;
  /** false: no token checks at all, as a plain emulator (STORAGE_EMULATOR_HOST). */
  auth?: boolean;
}

export interface GcsEmulator {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /**
   * Requests seen, but the harness's own (seeding with ADMIN_TOKEN, sync()):
   * "<METHOD> <path?query> <Authorization, spaces as _, or ->". Read after sync().
   */
  requests: string[];
  /** Resolves once every request answered so far is in `requests` (the log comes on a pipe of its own). */
  sync(): Promise<void>;
  createBucket(name: string): Promise<void>;
  put(bucket: string, name: string, body: Uint8Array | string): Promise<void>;
  /** Uploads every file under `dir` as `<prefix><path relative to dir>`. */
  putTree(bucket: string, dir: string, prefix?: string): Promise<void>;
  remove(bucket: string, name: string): Promise<void>;
  /** Deletes every object whose name starts with `prefix`. */
  removePrefix(bucket: string, prefix: string): Promise<void>;
  stop(): Promise<void>;
}

let binary: Promise<string> | undefined;

/** Builds tools/fake-gcs on first use (cached under ~/.cache/tensorfleet) and returns its path. */
function fakeGcsBinary(): Promise<string> {
  binary ??= new Promise((resolve, reject) => {
    execFile('bash', [GO_TOOL, 'fake-gcs'], (error, stdout, stderr) => {
      if (error) reject(new Error(`tools/go-tool.sh fake-gcs: ${stderr}`));
      else resolve(stdout.trim());
    });
  });
  return binary;
}

async function admin(url: string, init: RequestInit, what: string): Promise<void> {
  const res = await fetch(url, {
    ...init,
    headers: {
      ...(init.headers as Record<string, string>),
      authorization: `Bearer ${ADMIN_TOKEN}`,
    },
  });
  if (!res.ok) throw new Error(`fake-gcs: ${what}: HTTP ${res.status}: ${await res.text()}`);
}

export async function startGcsEmulator(opts: GcsEmulatorOptions = {}): Promise<GcsEmulator> {
  const args =
    opts.auth === false ? [] : [ADMIN_TOKEN, ...(opts.tokens ?? [])].flatMap((t) => ['-token', t]);
  for (const t of opts.deniedTokens ?? []) args.push('-deny-token', t);
  for (const b of opts.publicBuckets ?? []) args.push('-public-bucket', b);
  if (opts.maxResults !== undefined) args.push('-max-results', String(opts.maxResults));
  const child: ChildProcess = spawn(await fakeGcsBinary(), args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const requests: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`fake-gcs exited (${code}): ${stderr}`)));
    lines.once('line', resolve);
  });
  let syncs = 0;
  const waiting = new Map<string, () => void>();
  lines.on('line', (line) => {
    const marker = /^GET \/_internal\/healthcheck\?sync=(\d+) /.exec(line)?.[1];
    if (marker !== undefined) waiting.get(marker)?.();
    else if (!line.endsWith(`Bearer_${ADMIN_TOKEN}`)) requests.push(line);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const remove = (bucket: string, name: string): Promise<void> =>
    admin(
      `${endpoint}/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}`,
      { method: 'DELETE' },
      `deleting ${bucket}/${name}`,
    );
  const put = (bucket: string, name: string, body: Uint8Array | string): Promise<void> =>
    admin(
      `${endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`,
      { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } },
      `uploading ${bucket}/${name}`,
    );
  return {
    endpoint,
    requests,
    put,
    async sync() {
      const marker = String(++syncs);
      const logged = new Promise<void>((resolve) => waiting.set(marker, resolve));
      await fetch(`${endpoint}/_internal/healthcheck?sync=${marker}`);
      await logged;
      waiting.delete(marker);
    },
    async putTree(bucket, dir, prefix = '') {
      for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const file = join(entry.parentPath, entry.name);
        await put(
          bucket,
          prefix +
            file
              .slice(dir.length + 1)
              .split(/[\\/]/)
              .join('/'),
          await readFile(file),
        );
      }
    },
    createBucket: (name) =>
      admin(
        `${endpoint}/storage/v1/b`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name }),
        },
        `creating bucket ${name}`,
      ),
    remove,
    async removePrefix(bucket, prefix) {
      const res = await fetch(
        `${endpoint}/storage/v1/b/${bucket}/o?prefix=${encodeURIComponent(prefix)}&maxResults=1000`,
        { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
      );
      const page = (await res.json()) as { items?: { name: string }[] };
      for (const item of page.items ?? []) await remove(bucket, item.name);
    },
    async stop() {
      child.kill();
      await exited;
    },
  };
}
