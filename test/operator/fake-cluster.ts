// An API server in memory, for reconciler tests with none running: a real
// KubeClient whose requests are answered from a map of objects, and caches
// that show that map as of their last sync(), lagging behind it as
// informers do.
import { KubeConfig } from '@kubernetes/client-node';
import type { ObjectCache } from '../../src/operator/kube/cache.js';
import type { RequestOptions } from '../../src/operator/kube/client.js';
import { ApiError, KubeClient } from '../../src/operator/kube/client.js';
import type { KubeObject, ResourceRef } from '../../src/operator/kube/types.js';
import { resourcePath } from '../../src/operator/kube/types.js';

/** An object as the API server holds it: status is its own writer's. */
type Stored = KubeObject & { status?: unknown };

/** A request the API server would answer with an error, or undefined to serve it. */
export type Fault = (method: string, path: string) => ApiError | undefined;

export class FakeCluster {
  /** Every request that writes, as `METHOD path`, failed ones included. */
  readonly writes: string[] = [];
  /** Decides which requests fail; none do while unset. */
  fault: Fault | undefined;
  readonly client: KubeClient;
  private readonly objects = new Map<string, Stored>();
  /** What the caches show, per resource (by plural): the objects at their last sync. */
  private readonly synced = new Map<string, Map<string, KubeObject>>();
  private version = 0;

  constructor() {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'fake', server: 'https://fake.invalid' }],
      users: [{ name: 'fake' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
      currentContext: 'fake',
    });
    this.client = new FakeClient(kubeConfig, this);
  }

  /** Creates or replaces an object as someone else would, keeping its uid. */
  put<T extends Stored>(ref: ResourceRef, obj: T): void {
    const path = resourcePath(ref, obj.metadata.namespace, obj.metadata.name);
    this.store(path, structuredClone(obj));
  }

  /** Sets an object's status, as its controller would. */
  setStatus(ref: ResourceRef, namespace: string, name: string, status: unknown): void {
    const path = resourcePath(ref, namespace, name);
    this.store(path, { ...this.found(path), status });
  }

  remove(ref: ResourceRef, namespace: string, name: string): void {
    this.objects.delete(resourcePath(ref, namespace, name));
  }

  get<T extends KubeObject>(ref: ResourceRef, namespace: string, name: string): T | undefined {
    return structuredClone(this.objects.get(resourcePath(ref, namespace, name))) as T | undefined;
  }

  /** Brings the caches of `refs` (all, when none are named) up to date. */
  sync(...refs: ResourceRef[]): void {
    const plurals = refs.length ? refs.map((r) => r.plural) : [...this.synced.keys()];
    for (const plural of plurals) {
      const current = [...this.objects].filter(([path]) => pluralOf(path) === plural);
      this.synced.set(plural, new Map(structuredClone(current)));
    }
  }

  /** The cache of one kind, as of the last sync. */
  cache<T extends KubeObject>(ref: ResourceRef): ObjectCache<T> {
    if (!this.synced.has(ref.plural)) this.synced.set(ref.plural, new Map());
    const objects = () => [...(this.synced.get(ref.plural) ?? new Map<string, KubeObject>())];
    return {
      get: (namespace, name) =>
        objects().find(([path]) => path === resourcePath(ref, namespace, name))?.[1] as
          T | undefined,
      list: (namespace, predicate = () => true) =>
        objects()
          .map(([, obj]) => obj as T)
          .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
          .filter(predicate),
    };
  }

  /** Answers one request as the API server would, for the objects this holds. */
  serve(method: string, path: string, opts: RequestOptions): unknown {
    if (method !== 'GET') this.writes.push(`${method} ${path}`);
    const fault = this.fault?.(method, path);
    if (fault) throw fault;
    const status = path.endsWith('/status');
    const objectPath = status ? path.slice(0, -'/status'.length) : path;
    const existing = this.objects.get(objectPath);
    if (method === 'GET') return this.found(objectPath);
    if (method === 'DELETE') {
      this.found(objectPath);
      this.objects.delete(objectPath);
      return {};
    }
    if (method === 'PATCH' && opts.contentType === 'application/apply-patch+yaml') {
      const body = structuredClone(opts.body) as Stored;
      if (status) return this.store(objectPath, { ...this.found(objectPath), status: body.status });
      // Server-side apply of everything but status, which stays as its writer left it.
      const { status: _kept, ...rest } = body;
      return this.store(objectPath, {
        ...rest,
        ...(existing && 'status' in existing ? { status: existing.status } : {}),
        metadata: { ...body.metadata, uid: existing?.metadata.uid },
      });
    }
    throw new Error(`the fake API server does not serve ${method} ${path}`);
  }

  private found(path: string): Stored {
    const obj = this.objects.get(path);
    if (!obj) throw new ApiError(404, 'NotFound', `${path} not found`);
    return structuredClone(obj);
  }

  private store(path: string, obj: Stored): Stored {
    this.version++;
    obj.metadata = {
      ...obj.metadata,
      uid: obj.metadata.uid ?? `uid-${this.version}`,
      resourceVersion: String(this.version),
    };
    this.objects.set(path, obj);
    return structuredClone(obj);
  }
}

/** The plural in a resource path: /api(s)/<group version>[/namespaces/<ns>]/<plural>/<name>. */
function pluralOf(path: string): string {
  const parts = path.split('/');
  const i = parts.indexOf('namespaces');
  // A Namespace itself is /api/v1/namespaces/<name>.
  if (i >= 0 && parts.length > i + 3) return parts[i + 2]!;
  return parts.at(-2)!;
}

class FakeClient extends KubeClient {
  constructor(
    kubeConfig: KubeConfig,
    private readonly cluster: FakeCluster,
  ) {
    super(kubeConfig);
  }

  // The one method every other goes through; T is what the caller expects,
  // as with the real client's parsed JSON.
  override request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    return Promise.resolve().then(() => this.cluster.serve(method, path, opts) as T);
  }
}
