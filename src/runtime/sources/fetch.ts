// Model download: pick the source for a URI, list its files, download each
// with retries and exponential backoff, check sizes, and publish the result
// atomically (a temp dir next to the destination, then rename), so a reader
// never sees half a model.

import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { RuntimeError } from '../errors.js';
import { AzureBlobSource } from './azure-blob.js';
import { isAzureBlobUri } from './azure-blob-location.js';
import { FetchError } from './download.js';
import { GcsSource } from './gs.js';
import { HfSource } from './hf.js';
import { HttpSource } from './http.js';
import { checkLocal, localPath } from './local.js';
import { OciSource } from './oci.js';
import { S3Source } from './s3.js';
import type { ModelSource } from './source.js';

/** Progress of a download, for logs and the runtime's not-ready status. */
export interface FetchProgress {
  /** Bytes written so far (files done plus the current one). */
  bytes: number;
  /** Files done, and files listed. */
  files: number;
  of: number;
}

export interface FetchOptions {
  retries?: number;
  /**
   * A listing or download that moves no byte for this long is aborted and
   * retried (default 30 s); there is no limit on how long a moving one takes.
   */
  stallMs?: number;
  /** Called at each stall check while a file downloads (about once a second), and after each file. */
  onProgress?: (progress: FetchProgress) => void;
  /** First backoff delay; doubles each attempt (with jitter), capped at 10 s. */
  backoffMs?: number;
  log?: (msg: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface FetchResult {
  dir: string;
  files: number;
  bytes: number;
}

export function sourceFor(
  uri: string,
  env: NodeJS.ProcessEnv = process.env,
): ModelSource | undefined {
  // Before http(s): an https URI on a blob storage host is an Azure source.
  if (isAzureBlobUri(uri)) return new AzureBlobSource(uri, env);
  if (uri.startsWith('http://') || uri.startsWith('https://')) return new HttpSource(uri);
  if (uri.startsWith('s3://')) return new S3Source(uri, env);
  if (uri.startsWith('gs://')) return new GcsSource(uri, env);
  if (uri.startsWith('hf://')) return new HfSource(uri, env);
  if (uri.startsWith('oci://')) return new OciSource(uri, env);
  if (localPath(uri, env) !== undefined) return undefined;
  throw new RuntimeError(
    'CONFIG_INVALID',
    `unsupported model URI "${uri}": use file://, http(s)://, s3://, gs://, az://, hf://<org>/<repo>[@<revision>]/<path>, oci://<registry>/<repository>:<tag>|@sha256:<digest>, pvc://<claim>/<path> or a local path`,
  );
}

/** Runs `fn`, retrying transient FetchErrors with jittered exponential backoff. */
export async function withRetries<T>(
  what: string,
  opts: FetchOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const retries = opts.retries ?? 4;
  const base = opts.backoffMs ?? 500;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const transient = err instanceof FetchError ? err.transient : false;
      if (!transient || attempt >= retries) {
        if (err instanceof RuntimeError && attempt > 0) {
          throw new RuntimeError(
            err.code,
            `${err.message} (gave up after ${attempt + 1} attempts)`,
            { cause: err },
          );
        }
        throw err;
      }
      // A server that says how long to wait (a 429's Retry-After) is believed, up to a minute.
      const asked = err instanceof RuntimeError ? err.retryAfterSeconds : undefined;
      const delay =
        asked !== undefined
          ? Math.min(60_000, asked * 1000)
          : Math.min(10_000, base * 2 ** attempt) * (0.5 + Math.random() / 2);
      opts.log?.(`${what}: ${(err as Error).message}; retrying in ${Math.round(delay)} ms`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

const DEFAULT_STALL_MS = 30_000;

/**
 * Bytes written to `file` so far, 0 while it does not exist. A file written in
 * ranged parts at their offsets (s3-parts.ts) is sparse until done: its
 * allocated blocks count what arrived, its size only the furthest part.
 */
async function sizeOf(file: string): Promise<number> {
  try {
    const st = await stat(file);
    // (Some filesystems, FUSE ones among them, report no blocks at all.)
    return st.blocks > 0 ? Math.min(st.size, st.blocks * 512) : st.size;
  } catch {
    return 0;
  }
}

/**
 * Runs one listing or download, aborting it when `moved()` (bytes written)
 * stays the same for `stallMs`: a server that stops sending, before the
 * headers or mid-body, fails the attempt with a precise message (and is
 * retried as transient) instead of holding the model at LOADING.
 */
async function watched<T>(
  what: string,
  stallMs: number,
  moved: () => Promise<number>,
  fn: (signal: AbortSignal) => Promise<T>,
  /** Told the bytes moved at each check (about once a second): the download's progress. */
  onCheck?: (bytes: number) => void,
): Promise<T> {
  const controller = new AbortController();
  let last = 0;
  let since = performance.now();
  const timer = setInterval(
    () => {
      void moved().then((n) => {
        onCheck?.(n);
        if (n !== last) {
          last = n;
          since = performance.now();
        } else if (performance.now() - since >= stallMs) controller.abort();
      });
    },
    Math.min(1000, Math.max(10, stallMs / 4)),
  );
  try {
    return await fn(controller.signal);
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    throw new FetchError(
      'FETCH_FAILED',
      `${what}: stalled: no data for ${stallMs / 1000} s after ${last} bytes`,
      true,
    );
  } finally {
    clearInterval(timer);
  }
}

async function dirStats(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    files++;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

/** Replaces `dest` with `tmp` (both in the same parent directory). */
async function publish(tmp: string, dest: string): Promise<void> {
  let old: string | undefined;
  try {
    await stat(dest);
    old = `${dest}.old-${randomBytes(4).toString('hex')}`;
    await rename(dest, old);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await rename(tmp, dest);
  if (old !== undefined) await rm(old, { recursive: true, force: true });
}

/** Downloads (or copies, for local URIs) the model at `uri` into `dest`. */
export async function fetchModel(
  uri: string,
  dest: string,
  opts: FetchOptions = {},
): Promise<FetchResult> {
  const env = opts.env ?? process.env;
  const source = sourceFor(uri, env);
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    if (source === undefined) {
      const from = await checkLocal(uri, localPath(uri, env) as string);
      await cp(from, tmp, { recursive: true });
    } else {
      const stallMs = opts.stallMs ?? DEFAULT_STALL_MS;
      const files = await withRetries(`listing ${source.describe}`, opts, () =>
        watched(
          `listing ${source.describe}`,
          stallMs,
          // A listing writes nothing: it must finish within the stall time.
          () => Promise.resolve(0),
          (signal) => source.list(signal),
        ),
      );
      await mkdir(tmp, { recursive: true });
      const progress = opts.onProgress;
      let done = 0;
      let doneBytes = 0;
      for (const file of files) {
        const target = join(tmp, ...file.path.split('/'));
        if (relative(tmp, target).startsWith(`..${sep}`)) {
          throw new RuntimeError(
            'FETCH_FAILED',
            `${source.describe} lists an unsafe path ${JSON.stringify(file.path)}`,
          );
        }
        await mkdir(dirname(target), { recursive: true });
        doneBytes += await withRetries(`downloading ${file.path}`, opts, () =>
          watched(
            `downloading ${file.path}`,
            stallMs,
            () => sizeOf(target),
            (signal) => source.download(file, target, signal),
            progress && ((n) => progress({ bytes: doneBytes + n, files: done, of: files.length })),
          ),
        );
        done++;
        progress?.({ bytes: doneBytes, files: done, of: files.length });
      }
    }
    const stats = await dirStats(tmp);
    await publish(tmp, dest);
    // The source's description: a URI's credentials (an Azure SAS) stay out of logs.
    opts.log?.(
      `fetched ${source?.describe ?? uri} to ${dest}: ${stats.files} files, ${stats.bytes} bytes`,
    );
    return { dir: dest, ...stats };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** For `serve`: local URIs are used in place, remote ones are downloaded under cacheDir. */
export async function resolveModelDir(
  uri: string,
  cacheDir: string,
  opts: FetchOptions = {},
): Promise<string> {
  const env = opts.env ?? process.env;
  const source = sourceFor(uri, env);
  if (source === undefined) return checkLocal(uri, localPath(uri, env) as string);
  const key = createHash('sha256').update(uri).digest('hex').slice(0, 24);
  const dest = join(cacheDir, key);
  await fetchModel(uri, dest, opts);
  return dest;
}
