// A list-and-watch cache for one kind, written for the failure modes of
// @kubernetes/client-node's informer:
// 1. no error stops it: every failure is retried with jittered exponential backoff;
// 2. half-open connections: an inactivity watchdog aborts a silent watch, and
//    the cache is relisted periodically;
// 3. a watch that ends normally (server timeout) resumes from the last
//    resourceVersion instead of relisting; 410 Gone relists;
// 4. relists and resumed watches deliver no spurious updates (same
//    resourceVersion is not an update);
// 5. handlers are synchronous and only enqueue; a throwing handler is logged;
// 6. hasSynced() is true only after a real successful list;
// 7. list and watch are built from one query, so selectors always match;
// 8. one informer per kind is created and shared (see cache.ts); all requests
//    go through the shared keep-alive agent of KubeClient.
import type { KubeClient } from './client.js';
import { ApiError, isGone } from './client.js';
import type { KubeList, KubeObject, ResourceRef } from './types.js';
import { objectKey, resourcePath } from './types.js';
import type { Logger } from '../logger.js';
import { Backoff } from '../backoff.js';

export interface EventHandler<T> {
  onAdd?(obj: T): void;
  onUpdate?(obj: T, old: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions<T> {
  resource: ResourceRef;
  /** Namespace to watch; all namespaces when omitted. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Server-side watch timeout range in seconds; each watch picks a random value in it. */
  watchTimeoutSeconds?: [number, number];
  /** A watch silent for this long is presumed dead and reopened. */
  inactivityTimeoutMs?: number;
  /** Full relist period, a safety net against missed events. 0 turns it off. */
  relistPeriodMs?: number;
  /** Re-delivers every cached object to the handlers (no API call). 0 turns it off. */
  resyncPeriodMs?: number;
  pageSize?: number;
  backoff?: { initialMs: number; maxMs: number };
  /** Trims objects before they are cached, e.g. dropping managedFields to save memory. */
  transform?: (obj: T) => T;
  logger: Logger;
}

export interface InformerStats {
  lists: number;
  watches: number;
  failures: number;
  gone: number;
  inactivityAborts: number;
}

type WatchEvent<T> =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; object: T }
  | { type: 'ERROR'; object: { code?: number; reason?: string; message?: string } };

export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private readonly handlers: EventHandler<T>[] = [];
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private stopped = true;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private lastRelist = 0;
  readonly stats: InformerStats = {
    lists: 0,
    watches: 0,
    failures: 0,
    gone: 0,
    inactivityAborts: 0,
  };
  private readonly opts: Required<
    Omit<InformerOptions<T>, 'namespace' | 'labelSelector' | 'fieldSelector' | 'transform'>
  > &
    InformerOptions<T>;

  constructor(
    private readonly client: KubeClient,
    options: InformerOptions<T>,
  ) {
    this.opts = {
      watchTimeoutSeconds: [240, 360],
      inactivityTimeoutMs: 400_000,
      relistPeriodMs: 30 * 60_000,
      resyncPeriodMs: 10 * 60_000,
      pageSize: 500,
      backoff: { initialMs: 500, maxMs: 30_000 },
      ...options,
    };
  }

  get resource(): ResourceRef {
    return this.opts.resource;
  }

  addHandler(handler: EventHandler<T>): void {
    this.handlers.push(handler);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves after the first successful list. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  /** Cached objects, optionally of one namespace and matching a predicate. */
  list(namespace?: string, predicate?: (obj: T) => boolean): T[] {
    const out: T[] = [];
    for (const obj of this.store.values()) {
      if (namespace !== undefined && obj.metadata.namespace !== namespace) continue;
      if (predicate && !predicate(obj)) continue;
      out.push(obj);
    }
    return out;
  }

  get size(): number {
    return this.store.size;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
    if (this.opts.resyncPeriodMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncPeriodMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    this.abort?.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(this.opts.backoff.initialMs, this.opts.backoff.maxMs);
    let resourceVersion: string | undefined;
    while (!this.stopped) {
      try {
        if (resourceVersion === undefined || this.relistDue()) {
          resourceVersion = await this.relist();
        }
        resourceVersion = await this.watch(resourceVersion);
        backoff.reset();
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          // The resourceVersion is older than the API server keeps: start over.
          this.stats.gone++;
          this.opts.logger.debug('watch expired, relisting', {
            resource: this.opts.resource.plural,
          });
          resourceVersion = undefined;
          continue;
        }
        this.stats.failures++;
        const delay = backoff.next();
        this.opts.logger.warn('list/watch failed, retrying', {
          resource: this.opts.resource.plural,
          error: errorMessage(err),
          retryInMs: Math.round(delay),
        });
        await sleep(delay, this.abortSignal());
      }
    }
  }

  private relistDue(): boolean {
    return this.opts.relistPeriodMs > 0 && Date.now() - this.lastRelist >= this.opts.relistPeriodMs;
  }

  private query(): Record<string, string | undefined> {
    return { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector };
  }

  private path(): string {
    return resourcePath(this.opts.resource, this.opts.namespace);
  }

  /** Lists every page, replaces the cache, and tells handlers what changed. */
  private async relist(): Promise<string> {
    this.abort = new AbortController();
    const fresh = new Map<string, T>();
    let continueToken: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.client.request<KubeList<T>>('GET', this.path(), {
        query: { ...this.query(), limit: this.opts.pageSize, continue: continueToken },
        signal: this.abort.signal,
        timeoutMs: 60_000,
      });
      for (const item of page.items) {
        // List items carry no apiVersion/kind; restore them for handlers and SSA.
        const obj = this.prepare({
          ...item,
          apiVersion: this.opts.resource.apiVersion,
          kind: this.opts.resource.kind,
        });
        fresh.set(objectKey(obj), obj);
      }
      continueToken = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion ?? '';
    } while (continueToken);
    this.stats.lists++;
    this.lastRelist = Date.now();

    const previous = new Map(this.store);
    this.store.clear();
    for (const [key, obj] of fresh) {
      this.store.set(key, obj);
      const old = previous.get(key);
      if (!old) this.emit('add', obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) {
        this.emit('update', obj, old);
      }
    }
    for (const [key, old] of previous) if (!fresh.has(key)) this.emit('delete', old);

    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
    return resourceVersion;
  }

  /**
   * Watches from `resourceVersion` until the server ends the watch or it goes
   * silent; returns the last resourceVersion seen, to resume from.
   */
  private async watch(resourceVersion: string): Promise<string> {
    this.abort = new AbortController();
    const [min, max] = this.opts.watchTimeoutSeconds;
    const res = await this.client.stream(this.path(), {
      query: {
        ...this.query(),
        watch: true,
        allowWatchBookmarks: true,
        resourceVersion,
        timeoutSeconds: Math.round(min + Math.random() * (max - min)),
      },
      signal: this.abort.signal,
    });
    this.stats.watches++;
    let rv = resourceVersion;
    let inactive = false;
    let closedByUs = false;
    let watchdog: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        inactive = closedByUs = true;
        this.stats.inactivityAborts++;
        res.destroy();
      }, this.opts.inactivityTimeoutMs);
    };
    // Stop the watch when a relist is due, so a relist happens even on a busy watch.
    const relistTimer =
      this.opts.relistPeriodMs > 0
        ? setTimeout(
            () => {
              closedByUs = true;
              res.destroy();
            },
            this.opts.relistPeriodMs - (Date.now() - this.lastRelist),
          )
        : undefined;
    arm();
    try {
      for await (const line of jsonLines(res)) {
        arm();
        const event = JSON.parse(line) as WatchEvent<T>;
        if (event.type === 'ERROR') {
          const s = event.object;
          throw new ApiError(s.code ?? 500, s.reason ?? 'Unknown', s.message ?? 'watch error');
        }
        const next = event.object.metadata.resourceVersion;
        if (next) rv = next;
        if (event.type !== 'BOOKMARK') this.apply(event.type, event.object);
      }
    } catch (err) {
      // A destroyed stream (watchdog, relist timer or stop) is not a failure.
      if (err instanceof ApiError || !(closedByUs || this.stopped)) throw err;
    } finally {
      clearTimeout(watchdog);
      clearTimeout(relistTimer);
      res.destroy();
    }
    if (inactive) {
      this.opts.logger.info('watch went silent, reopening', {
        resource: this.opts.resource.plural,
      });
    }
    return rv;
  }

  private apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: T): void {
    const obj = this.prepare(raw);
    const key = objectKey(obj);
    const old = this.store.get(key);
    if (type === 'DELETED') {
      this.store.delete(key);
      this.emit('delete', old ?? obj);
      return;
    }
    this.store.set(key, obj);
    if (!old) this.emit('add', obj);
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion)
      this.emit('update', obj, old);
  }

  private prepare(obj: T): T {
    return this.opts.transform ? this.opts.transform(obj) : obj;
  }

  private resync(): void {
    if (!this.synced) return;
    for (const obj of this.store.values()) this.emit('update', obj, obj);
  }

  private emit(kind: 'add' | 'update' | 'delete', obj: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        if (kind === 'add') h.onAdd?.(obj);
        else if (kind === 'update') h.onUpdate?.(obj, old ?? obj);
        else h.onDelete?.(obj);
      } catch (err) {
        this.opts.logger.error('informer handler threw', {
          resource: this.opts.resource.plural,
          error: errorMessage(err),
        });
      }
    }
  }

  private abortSignal(): AbortSignal | undefined {
    this.abort = new AbortController();
    return this.abort.signal;
  }
}

/**
 * Splits a stream into non-empty lines. (readline would hang on a destroyed
 * stream: it waits for 'end', which a destroyed stream never emits.)
 */
async function* jsonLines(stream: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let buffered = '';
  for await (const chunk of stream) {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) yield line;
    }
  }
  if (buffered.trim()) yield buffered.trim();
}

/** Drops managedFields, which the operator never reads and which dominate object size. */
export function dropManagedFields<T extends KubeObject>(obj: T): T {
  if (!obj.metadata.managedFields) return obj;
  const { managedFields: _drop, ...metadata } = obj.metadata;
  return { ...obj, metadata: metadata };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
