// One informer per kind and namespace, created once and shared by every
// reader (client-node #494: recreated informers leak connections). With a
// list of namespaces, each kind gets one informer per namespace behind one
// facade.
import type { KubeClient } from './client.js';
import type { EventHandler, InformerOptions } from './informer.js';
import { Informer, dropManagedFields } from './informer.js';
import type { KubeObject, ResourceRef } from './types.js';
import type { Logger } from '../logger.js';

export interface CacheOptions {
  /** Namespaces to watch; empty means all. */
  namespaces: readonly string[];
  resyncPeriodMs: number;
  logger: Logger;
  /** Overrides for tests (timeouts, backoff). */
  informer?: Partial<InformerOptions<KubeObject>>;
}

/** How long a write we made is trusted over a cache that has not caught up yet. */
export const OWN_WRITE_TRUST_MS = 30_000;

/** The read side of a kind's cache: what reconcilers need, and what their tests fake. */
export interface ObjectCache<T extends KubeObject> {
  get(namespace: string, name: string): T | undefined;
  list(namespace?: string, predicate?: (obj: T) => boolean): T[];
}

export class KindCache<T extends KubeObject> implements ObjectCache<T> {
  constructor(readonly informers: Informer<T>[]) {}

  get(namespace: string, name: string): T | undefined {
    for (const i of this.informers) {
      const obj = i.get(namespace ? `${namespace}/${name}` : name);
      if (obj) return obj;
    }
    return undefined;
  }

  list(namespace?: string, predicate?: (obj: T) => boolean): T[] {
    return this.informers.flatMap((i) => i.list(namespace, predicate));
  }

  addHandler(h: EventHandler<T>): void {
    for (const i of this.informers) i.addHandler(h);
  }

  hasSynced(): boolean {
    return this.informers.every((i) => i.hasSynced());
  }

  async waitForSync(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.waitForSync()));
  }
}

export class SharedCache {
  private readonly kinds = new Map<string, KindCache<KubeObject>>();
  private started = false;

  constructor(
    private readonly client: KubeClient,
    private readonly options: CacheOptions,
  ) {}

  /** The shared cache of one kind; informers start with start() (or at once if already started). */
  kind<T extends KubeObject>(resource: ResourceRef, labelSelector?: string): KindCache<T> {
    const id = `${resource.apiVersion}/${resource.plural}?${labelSelector ?? ''}`;
    let cache = this.kinds.get(id);
    if (!cache) {
      const namespaces =
        resource.namespaced && this.options.namespaces.length
          ? this.options.namespaces
          : [undefined];
      cache = new KindCache(
        namespaces.map(
          (namespace) =>
            new Informer<KubeObject>(this.client, {
              ...this.options.informer,
              resource,
              ...(namespace ? { namespace } : {}),
              ...(labelSelector ? { labelSelector } : {}),
              resyncPeriodMs: this.options.resyncPeriodMs,
              transform: dropManagedFields,
              logger: this.options.logger,
            }),
        ),
      );
      this.kinds.set(id, cache);
      if (this.started) for (const i of cache.informers) i.start();
    }
    return cache as unknown as KindCache<T>;
  }

  /** Stops and drops every cache of `resource` (its CRD is gone); `kind` starts afresh. */
  async forget(resource: ResourceRef): Promise<void> {
    const prefix = `${resource.apiVersion}/${resource.plural}?`;
    const gone = [...this.kinds.entries()].filter(([id]) => id.startsWith(prefix));
    for (const [id] of gone) this.kinds.delete(id);
    await Promise.all(gone.flatMap(([, c]) => c.informers.map((i) => i.stop())));
  }

  start(): void {
    this.started = true;
    for (const cache of this.kinds.values()) for (const i of cache.informers) i.start();
  }

  hasSynced(): boolean {
    return [...this.kinds.values()].every((c) => c.hasSynced());
  }

  async waitForSync(): Promise<void> {
    await Promise.all([...this.kinds.values()].map((c) => c.waitForSync()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.kinds.values()].flatMap((c) => c.informers.map((i) => i.stop())));
  }
}
