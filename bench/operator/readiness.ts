// Follows one kind in one namespace with a list and a watch (cheaper for the
// API server than listing hundreds of objects every second) and records when
// each object first satisfies a readiness predicate.
import { createInterface } from 'node:readline';

import type { KubeClient } from '../../src/operator/kube/client.js';
import type { KubeList, KubeObject, ResourceRef } from '../../src/operator/kube/types.js';
import { resourcePath } from '../../src/operator/kube/types.js';

type WatchEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; object: KubeObject }
  | { type: 'ERROR'; object: { code?: number; message?: string } };

export interface ReadinessOptions {
  client: KubeClient;
  resource: ResourceRef;
  namespace: string;
  /** Names that must all become ready. */
  expected: ReadonlySet<string>;
  isReady: (object: KubeObject) => boolean;
}

export class ReadinessTracker {
  /** Name -> Date.now() when first seen ready. */
  readonly readyAt = new Map<string, number>();
  /** MODIFIED events seen for expected objects: writes that changed something. */
  modifications = 0;
  private stopped = false;
  private abort = new AbortController();
  private waiters: Array<() => void> = [];
  private loop: Promise<void> | undefined;
  private failure: unknown;

  constructor(private readonly o: ReadinessOptions) {}

  start(): void {
    this.loop = this.run().catch((error: unknown) => {
      this.failure = error;
      this.wake();
    });
  }

  get readyCount(): number {
    return this.readyAt.size;
  }

  /** Resolves when every expected object is ready; rejects after `timeoutMs`. */
  async waitAll(timeoutMs: number, progress?: (ready: number) => void): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let reported = -1;
    while (this.readyAt.size < this.o.expected.size) {
      if (this.failure !== undefined) {
        throw this.failure instanceof Error
          ? this.failure
          : new Error(JSON.stringify(this.failure));
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `${this.readyAt.size}/${this.o.expected.size} ${this.o.resource.plural} ready after ${timeoutMs / 1000} s`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (progress && this.readyAt.size !== reported) {
        reported = this.readyAt.size;
        progress(reported);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop;
  }

  private observe(object: KubeObject): void {
    const name = object.metadata.name;
    if (!this.o.expected.has(name) || this.readyAt.has(name)) return;
    if (!this.o.isReady(object)) return;
    this.readyAt.set(name, Date.now());
    if (this.readyAt.size === this.o.expected.size) this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  private async run(): Promise<void> {
    const { client, resource, namespace } = this.o;
    const path = resourcePath(resource, namespace);
    while (!this.stopped) {
      const list = await client.request<KubeList<KubeObject>>('GET', path);
      for (const item of list.items) this.observe(item);
      let resourceVersion = list.metadata.resourceVersion ?? '';
      // Watch until the server closes it (timeoutSeconds) or it expires (410): then relist.
      while (!this.stopped) {
        let response;
        try {
          response = await client.stream(path, {
            query: {
              watch: 1,
              resourceVersion,
              allowWatchBookmarks: true,
              timeoutSeconds: 300,
            },
            signal: this.abort.signal,
          });
        } catch (error) {
          if (this.stopped) return;
          throw error;
        }
        let expired = false;
        try {
          const lines = createInterface({ input: response, crlfDelay: Infinity });
          for await (const line of lines) {
            if (line.trim() === '') continue;
            const event = JSON.parse(line) as WatchEvent;
            if (event.type === 'ERROR') {
              expired = true;
              break;
            }
            resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
            if (event.type === 'MODIFIED' && this.o.expected.has(event.object.metadata.name))
              this.modifications++;
            if (event.type === 'ADDED' || event.type === 'MODIFIED') this.observe(event.object);
          }
        } catch (error) {
          if (this.stopped) return;
          throw error;
        } finally {
          response.destroy();
        }
        if (expired) break;
      }
    }
  }
}

/** Deployment rolled out: every replica updated, ready and available, at the current generation. */
export function deploymentReady(object: KubeObject): boolean {
  const d = object as KubeObject & {
    spec?: { replicas?: number };
    status?: {
      observedGeneration?: number;
      replicas?: number;
      updatedReplicas?: number;
      readyReplicas?: number;
      availableReplicas?: number;
    };
  };
  const want = d.spec?.replicas ?? 1;
  const s = d.status;
  return (
    s !== undefined &&
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
    s.replicas === want &&
    s.updatedReplicas === want &&
    s.readyReplicas === want &&
    s.availableReplicas === want
  );
}

/** ModelDeployment reports Ready=True for its current generation. */
export function modelDeploymentReady(object: KubeObject): boolean {
  const md = object as KubeObject & {
    status?: {
      observedGeneration?: number;
      conditions?: Array<{ type: string; status: string }>;
    };
  };
  return (
    (md.status?.observedGeneration ?? -1) === (md.metadata.generation ?? 0) &&
    (md.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}
