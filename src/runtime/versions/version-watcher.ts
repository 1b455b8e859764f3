// Polls a versioned base path, as TF Serving's file-system source does every
// --file_system_poll_wait_seconds: a fixed wait between polls (no backoff; the
// next poll is the retry), 0 meaning one poll at start. Each poll lists the
// versions, applies the policy, and reports the desired set when it changes.
// A failed poll keeps the last good set and reports the error; so does a poll
// that finds nothing to serve (TF Serving's servable_versions_always_present):
// a listing that comes back empty for a moment must not unload a serving model.
//
// An async iterator, not an event emitter: the consumer (the serving layer)
// loads and unloads at its own pace, and while it is busy the watcher keeps
// only the newest unread desired set (and the newest unread error), so the
// consumer acts on the current state, never on a backlog of stale sets; there
// is no listener to forget, and `for await ... break` stops the polling.

import { RuntimeError, toRuntimeError } from '../errors.js';
import { FetchError } from '../sources/download.js';
import type { ListVersionsOptions, SkippedVersionDirectory, VersionListing } from './base-path.js';
import { listVersions } from './base-path.js';
import type { VersionPolicy } from './version-policy.js';
import {
  checkVersionPolicy,
  DEFAULT_VERSION_POLICY,
  describeVersionPolicy,
  missingVersions,
  selectVersions,
} from './version-policy.js';

export interface DesiredVersions {
  readonly kind: 'desired';
  /** The versions to serve, ascending; never empty. */
  readonly versions: readonly number[];
  /** Versions a `specific` policy names that the base path lacks (for status). */
  readonly missing: readonly number[];
  /** Version-named directories not served, and why. */
  readonly skipped: readonly SkippedVersionDirectory[];
}

export interface VersionWatchError {
  readonly kind: 'error';
  readonly error: RuntimeError;
  /** The desired set still in force, undefined before the first good poll. */
  readonly kept: readonly number[] | undefined;
}

export type VersionWatchEvent = DesiredVersions | VersionWatchError;

export interface VersionWatcherOptions extends Pick<ListVersionsOptions, 'env' | 'log'> {
  /** Default `latest 1`, as TF Serving. */
  policy?: VersionPolicy;
  /** Seconds between the end of one poll and the start of the next; 0 polls once. */
  pollSeconds: number;
  /** A poll that takes longer is aborted and counts as failed (default 30 s). */
  pollTimeoutMs?: number;
  /**
   * Polling once (pollSeconds 0) only: retries of transient failures, waiting
   * retryDelayMs between them (default 4 and 1000), since no later poll follows.
   */
  retries?: number;
  retryDelayMs?: number;
}

const DEFAULT_POLL_TIMEOUT_MS = 30_000;

function sameVersions(a: readonly number[] | undefined, b: readonly number[]): boolean {
  return a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}

export class VersionWatcher implements AsyncIterableIterator<VersionWatchEvent> {
  readonly basePath: string;
  readonly policy: VersionPolicy;
  private readonly opts: VersionWatcherOptions;
  /** Unread events, at most one of each kind. */
  private queue: VersionWatchEvent[] = [];
  private waiter: ((result: IteratorResult<VersionWatchEvent>) => void) | undefined;
  private finished = false;
  private stopping = false;
  /** The wait between polls, the current poll's deadline, and the current poll's requests. */
  private waitTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private pollAbort: AbortController | undefined;
  private current: readonly number[] | undefined;
  private lastListing: VersionListing | undefined;
  private lastErrorMessage: string | undefined;
  private readonly loop: Promise<void>;

  constructor(basePath: string, opts: VersionWatcherOptions) {
    if (!(Number.isFinite(opts.pollSeconds) && opts.pollSeconds >= 0)) {
      throw new RuntimeError(
        'CONFIG_INVALID',
        `the poll interval must be 0 (poll once) or a positive number of seconds, not ${opts.pollSeconds}`,
      );
    }
    this.basePath = basePath;
    this.policy = checkVersionPolicy(opts.policy ?? DEFAULT_VERSION_POLICY);
    this.opts = opts;
    this.loop = this.run();
  }

  /** The desired set in force (the last one emitted), undefined before the first good poll. */
  get desired(): readonly number[] | undefined {
    return this.current;
  }

  /** The last successful listing (its `skipped` can change without the desired set changing). */
  get listing(): VersionListing | undefined {
    return this.lastListing;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<VersionWatchEvent>> {
    const event = this.queue.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter !== undefined) {
      return Promise.reject(
        new Error('VersionWatcher has one reader: await next() before calling it again'),
      );
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Called by `for await` on break: stops polling. */
  async return(): Promise<IteratorResult<VersionWatchEvent>> {
    await this.stop();
    return { value: undefined, done: true };
  }

  /**
   * Stops polling: clears every timer at once, aborts the poll in flight, drops
   * unread events, ends the iteration; resolves once the poll in flight settled.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.waitTimer);
    clearTimeout(this.pollTimer);
    this.waitTimer = undefined;
    this.pollTimer = undefined;
    this.pollAbort?.abort();
    this.wake?.();
    this.queue = [];
    await this.loop;
  }

  private async run(): Promise<void> {
    try {
      const once = this.opts.pollSeconds === 0;
      if (once) await this.pollWithRetries();
      while (!once && !this.stopping) {
        await this.poll();
        await this.wait(this.opts.pollSeconds * 1000);
      }
    } catch (err) {
      // poll() reports its errors; anything here is a bug, still reported, not thrown away.
      this.report(toRuntimeError(err));
    } finally {
      this.finish();
    }
  }

  /** One poll; true when it failed with a transient error (worth retrying). */
  private async poll(): Promise<boolean> {
    const abort = new AbortController();
    this.pollAbort = abort;
    const timeoutMs = this.opts.pollTimeoutMs ?? DEFAULT_POLL_TIMEOUT_MS;
    this.pollTimer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const listing = await listVersions(this.basePath, {
        retries: 0,
        signal: abort.signal,
        ...(this.lastListing === undefined ? {} : { confirmed: this.lastListing.versions }),
        ...(this.opts.env === undefined ? {} : { env: this.opts.env }),
        ...(this.opts.log === undefined ? {} : { log: this.opts.log }),
      });
      if (this.stopping) return false;
      this.accept(listing);
      return false;
    } catch (err) {
      if (this.stopping) return false;
      const error = abort.signal.aborted
        ? new FetchError(
            'FETCH_FAILED',
            `listing ${this.basePath}: no answer within ${timeoutMs / 1000} s`,
            true,
          )
        : toRuntimeError(err, 'FETCH_FAILED');
      this.report(error);
      return error instanceof FetchError && error.transient;
    } finally {
      clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
      this.pollAbort = undefined;
    }
  }

  private async pollWithRetries(): Promise<void> {
    const retries = this.opts.retries ?? 4;
    for (let attempt = 0; !this.stopping; attempt++) {
      const transient = await this.poll();
      if (!transient || attempt >= retries) return;
      await this.wait(this.opts.retryDelayMs ?? 1000);
    }
  }

  private accept(listing: VersionListing): void {
    this.lastListing = listing;
    const versions = selectVersions(this.policy, listing.versions);
    if (versions.length === 0) {
      this.report(
        new RuntimeError(
          'NO_MODEL_VERSIONS',
          `none of the versions of policy ${describeVersionPolicy(this.policy)} is under ${this.basePath}: it has ${listing.versions.join(', ')}`,
        ),
      );
      return;
    }
    this.lastErrorMessage = undefined;
    if (sameVersions(this.current, versions)) return;
    this.current = versions;
    this.emit({
      kind: 'desired',
      versions,
      missing: missingVersions(this.policy, listing.versions),
      skipped: listing.skipped,
    });
  }

  /** Reports an error once, not at every poll while it lasts. */
  private report(error: RuntimeError): void {
    if (error.message === this.lastErrorMessage) return;
    this.lastErrorMessage = error.message;
    this.opts.log?.(`${error.code}: ${error.message}`);
    this.emit({ kind: 'error', error, kept: this.current });
  }

  private emit(event: VersionWatchEvent): void {
    if (this.stopping) return;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter({ value: event, done: false });
      return;
    }
    this.queue = this.queue.filter((e) => e.kind !== event.kind);
    this.queue.push(event);
  }

  private wait(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      this.waitTimer = setTimeout(resolve, ms);
    }).then(() => {
      this.waitTimer = undefined;
      this.wake = undefined;
    });
  }

  private finish(): void {
    this.finished = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.({ value: undefined, done: true });
  }
}

/** Starts polling `basePath` at once; iterate the result, stop it when done. */
export function watchVersions(basePath: string, opts: VersionWatcherOptions): VersionWatcher {
  return new VersionWatcher(basePath, opts);
}
