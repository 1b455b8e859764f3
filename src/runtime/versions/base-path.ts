// A versioned base path as TF Serving lays it out: <base>/<version>/, one
// model per version directory, the version a positive integer. Lists the
// versions on every source the runtime reads (local path, file://, pvc://,
// http(s) index pages, s3://, gs://, az://), one directory level at a time, and keeps
// only the directories that hold a model.
//
// A version counts once its marker file is there: for a remote source, publish
// the marker (saved_model.pb or model.json) last, or copy the directory in
// under a temporary name and rename it, or a poll may catch it half uploaded.

import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { detectFormat } from '../models/format.js';
import type { FetchOptions } from '../sources/fetch.js';
import { sourceFor, withRetries } from '../sources/fetch.js';
import { HttpSource } from '../sources/http.js';
import { listLocalDirectory, localPath } from '../sources/local.js';
import type { DirectoryEntries, DirectoryLister } from '../sources/source.js';
import { refuseOciBasePath } from '../sources/oci-reference.js';
import { canListDirectories } from '../sources/source.js';
import { isVersionNumber } from './version-policy.js';

/** A directory named like a version that is not served, and why (for status and logs). */
export interface SkippedVersionDirectory {
  readonly name: string;
  readonly reason: string;
}

export interface VersionListing {
  /** The base path as given. */
  readonly basePath: string;
  /** Versions whose directory holds a model, ascending. */
  readonly versions: readonly number[];
  /** Directories with a number for a name that are not versions, or hold no model. */
  readonly skipped: readonly SkippedVersionDirectory[];
}

export interface ListVersionsOptions extends Pick<FetchOptions, 'backoffMs' | 'log' | 'env'> {
  /** Retries of transient failures (default 0: a poller's next poll is its retry). */
  retries?: number;
  /**
   * Versions a previous listing found a model in: still listed, they are kept
   * without looking inside again (a poller's steady state is one request per
   * poll, not one per version; object-store listings are billed).
   */
  confirmed?: readonly number[];
  /** Aborts the listing's requests (a stop, or a listing that takes too long). */
  signal?: AbortSignal;
}

/**
 * Files that mark a loadable model. Over http(s) only model.json: the http
 * source downloads TF.js models (their weightsManifest lists the files); it
 * cannot fetch a SavedModel's variables/ directory.
 */
const REMOTE_MARKERS = ['saved_model.pb', 'saved_model.pbtxt', 'model.json'] as const;
const HTTP_MARKERS = ['model.json'] as const;

/** Remote version directories checked at once. */
const CHECK_CONCURRENCY = 8;

/** The version a directory name stands for: canonical decimal, positive, exact. */
export function parseVersionName(name: string): number | undefined {
  if (!/^[1-9][0-9]*$/.test(name)) return undefined;
  const version = Number(name);
  return isVersionNumber(version) ? version : undefined;
}

/**
 * The URI of one version under a base path, for fetchModel / resolveModelDir
 * (whose cache key is the URI, so each version gets its own cache directory).
 * Remote URIs end in "/" (for http(s), "the model.json in this directory").
 */
export function versionUri(base: string, version: number): string {
  if (!isVersionNumber(version)) {
    throw new RuntimeError(
      'CONFIG_INVALID',
      `version ${version} is not a positive integer (under ${base})`,
    );
  }
  const trimmed = base.replace(/\/+$/, '');
  const remote = /^[a-z][a-z0-9+.-]*:\/\//i.test(base) && !/^(file|pvc):\/\//i.test(base);
  return remote ? `${trimmed}/${version}/` : `${trimmed}/${version}`;
}

/** Runs `check` over `items`, at most `limit` at a time, results in order. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  check: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await check(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Why a version directory is not a model, or undefined when it is one. */
type VersionCheck = (name: string) => Promise<string | undefined>;

function localCheck(dir: string): VersionCheck {
  // The runtime's own format detection: a version counts only if it would load.
  return async (name) => {
    try {
      await detectFormat(join(dir, name));
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };
}

function remoteCheck(lister: DirectoryLister, signal: AbortSignal | undefined): VersionCheck {
  const markers: readonly string[] = lister instanceof HttpSource ? HTTP_MARKERS : REMOTE_MARKERS;
  return async (name) => {
    let files: string[];
    try {
      files = (await lister.listDirectory(name, signal)).files;
    } catch (err) {
      // Gone since the base path was listed: not a version now. Anything else fails the listing.
      if (err instanceof RuntimeError && err.code === 'FETCH_NOT_FOUND') return err.message;
      throw err;
    }
    if (markers.some((m) => files.includes(m))) return undefined;
    return `no model in ${name}/: expected ${markers.join(' or ')}`;
  };
}

function summarize(names: readonly string[], max = 10): string {
  if (names.length === 0) return 'it is empty';
  const shown = names.slice(0, max).join(', ');
  return `found ${shown}${names.length > max ? ` and ${names.length - max} more` : ''}`;
}

/**
 * The versions under `base`. Fails FETCH_NOT_FOUND (base path missing or a
 * file), FETCH_UNAUTHORIZED (access denied), FETCH_FAILED (network, server),
 * NO_MODEL_VERSIONS (no version directory holds a model), always naming the
 * base path.
 */
export async function listVersions(
  base: string,
  opts: ListVersionsOptions = {},
): Promise<VersionListing> {
  const env = opts.env ?? process.env;
  refuseOciBasePath(base);
  const retryOpts: FetchOptions = { ...opts, retries: opts.retries ?? 0 };
  const source = sourceFor(base.endsWith('/') ? base : `${base}/`, env);
  let listBase: () => Promise<DirectoryEntries>;
  let check: VersionCheck;
  if (source === undefined) {
    const dir = localPath(base, env) as string;
    listBase = () => listLocalDirectory(base, dir);
    check = localCheck(dir);
  } else if (canListDirectories(source)) {
    listBase = () =>
      withRetries(`listing ${source.describe}`, retryOpts, () =>
        source.listDirectory('', opts.signal),
      );
    check = remoteCheck(source, opts.signal);
  } else {
    throw new RuntimeError('CONFIG_INVALID', `${base}: this source cannot list directories`);
  }

  const top = await listBase();
  const candidates: { name: string; version: number }[] = [];
  const skipped: SkippedVersionDirectory[] = [];
  for (const name of top.directories) {
    const version = parseVersionName(name);
    if (version !== undefined) candidates.push({ name, version });
    else if (/^[0-9]+$/.test(name)) {
      skipped.push({
        name,
        reason: `${name}/ is not a version: versions are positive integers without leading zeros`,
      });
    }
  }
  if (candidates.length === 0) {
    const found = [...top.directories.map((d) => `${d}/`), ...top.files].sort();
    throw new RuntimeError(
      'NO_MODEL_VERSIONS',
      `no version directories under ${base}: expected ${versionUri(base, 1)} and so on (<version> a positive integer); ${summarize(found)}`,
    );
  }

  const confirmed = new Set(opts.confirmed ?? []);
  const reasons = await mapLimited(candidates, CHECK_CONCURRENCY, ({ name, version }) =>
    confirmed.has(version)
      ? Promise.resolve(undefined)
      : withRetries(`listing ${name}/ under ${base}`, retryOpts, () => check(name)),
  );
  const versions: number[] = [];
  candidates.forEach(({ name, version }, i) => {
    const reason = reasons[i];
    if (reason === undefined) versions.push(version);
    else skipped.push({ name, reason });
  });
  if (versions.length === 0) {
    throw new RuntimeError(
      'NO_MODEL_VERSIONS',
      `no version directory under ${base} holds a model: ${skipped.map((s) => s.reason).join('; ')}`,
    );
  }
  versions.sort((a, b) => a - b);
  skipped.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { basePath: base, versions, skipped };
}
