// A small Kubernetes REST client. @kubernetes/client-node's KubeConfig does the
// authentication (kubeconfig, in-cluster token, exec plugins); requests go
// through one keep-alive agent per process, so informers and reconcilers share
// connections instead of leaking one agent per request (client-node #494).
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject, KubeList, ResourceRef } from './types.js';
import { resourcePath } from './types.js';
import type { PatchOperation } from './blocking-fields.js';

/** The field manager of every server-side apply Tensorfleet makes. */
export const FIELD_MANAGER = 'tensorfleet';

/** An error answered by the API server, with its HTTP status and Status reason. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.status === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.status === 409;
export const isGone = (e: unknown) => e instanceof ApiError && e.status === 410;

/** The API server refuses new objects in a namespace that is being deleted. */
export function isNamespaceTerminating(err: unknown): boolean {
  return (
    err instanceof ApiError &&
    err.status === 403 &&
    /because it is being terminated/.test(err.message)
  );
}

/**
 * True when the API server refused the object itself (not a passing
 * conflict, throttle or outage). Server-side apply answers 500 "failed to
 * create typed patch object" for a body of the wrong shape.
 */
export function isRejected(err: unknown): err is ApiError {
  if (!(err instanceof ApiError)) return false;
  if (err.status === 500) return /failed to create typed patch object/.test(err.message);
  return err.status >= 400 && err.status < 500 && err.status !== 409 && err.status !== 429;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Per-request timeout in milliseconds; watches pass 0 and use their own watchdog. */
  timeoutMs?: number;
}

export interface ClientOptions {
  userAgent?: string;
  /** Called once per request with its verb, for write accounting in metrics and tests. */
  onRequest?: (method: string, path: string) => void;
}

export class KubeClient {
  readonly server: URL;
  private agent: http.Agent | undefined;
  private readonly userAgent: string;

  constructor(
    readonly kubeConfig: KubeConfig,
    private readonly options: ClientOptions = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    this.userAgent = options.userAgent ?? 'tensorfleet-operator';
  }

  /** Sends one request and returns the parsed JSON body; non-2xx answers throw ApiError. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, opts);
    const text = await readBody(res);
    if (res.statusCode === undefined || res.statusCode >= 300) {
      throw toApiError(res.statusCode ?? 0, text, `${method} ${path}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** Opens a streaming GET (watch); the caller owns the response and must destroy it. */
  async stream(path: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const res = await this.send('GET', path, { ...opts, timeoutMs: 0 });
    if (res.statusCode !== 200) {
      const text = await readBody(res);
      throw toApiError(res.statusCode ?? 0, text, `GET ${path}`);
    }
    return res;
  }

  get<T extends KubeObject>(
    ref: ResourceRef,
    name: string,
    namespace?: string,
    opts: Pick<RequestOptions, 'signal'> = {},
  ): Promise<T> {
    return this.request<T>('GET', resourcePath(ref, namespace, name), opts);
  }

  list<T extends KubeObject>(
    ref: ResourceRef,
    namespace?: string,
    query: RequestOptions['query'] = {},
  ): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', resourcePath(ref, namespace), { query });
  }

  /**
   * Server-side apply. The body must carry apiVersion, kind, metadata.name and
   * (when namespaced) metadata.namespace. The explicit apply-patch content type
   * is what makes it an apply (client-node #862).
   */
  apply<T extends KubeObject>(
    ref: ResourceRef,
    object: KubeObject,
    opts: { subresource?: 'status'; force?: boolean } = {},
  ): Promise<T> {
    const path = resourcePath(
      ref,
      object.metadata.namespace,
      object.metadata.name,
      opts.subresource,
    );
    return this.request<T>('PATCH', path, {
      query: { fieldManager: FIELD_MANAGER, force: opts.force ?? true },
      body: object,
      contentType: 'application/apply-patch+yaml',
    });
  }

  /** A JSON merge patch, for fields such as one annotation. */
  mergePatch<T extends KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    subresource?: string,
  ): Promise<T> {
    return this.request<T>('PATCH', resourcePath(ref, namespace, name, subresource), {
      body: patch,
      contentType: 'application/merge-patch+json',
    });
  }

  /** A JSON patch (RFC 6902), for removing fields another manager set. */
  jsonPatch<T extends KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    name: string,
    operations: readonly PatchOperation[],
  ): Promise<T> {
    return this.request<T>('PATCH', resourcePath(ref, namespace, name), {
      body: operations,
      contentType: 'application/json-patch+json',
    });
  }

  create<T extends KubeObject>(
    ref: ResourceRef,
    object: KubeObject,
    opts: Pick<RequestOptions, 'signal'> = {},
  ): Promise<T> {
    return this.request<T>('POST', resourcePath(ref, object.metadata.namespace), {
      body: object,
      ...opts,
    });
  }

  replace<T extends KubeObject>(
    ref: ResourceRef,
    object: KubeObject,
    opts: Pick<RequestOptions, 'signal'> = {},
  ): Promise<T> {
    const path = resourcePath(ref, object.metadata.namespace, object.metadata.name);
    return this.request<T>('PUT', path, { body: object, ...opts });
  }

  /** Deletes in the background; `uid` guards against deleting a newer object of the same name. */
  async delete(ref: ResourceRef, namespace: string | undefined, name: string, uid?: string) {
    await this.request('DELETE', resourcePath(ref, namespace, name), {
      body: {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        propagationPolicy: 'Background',
        ...(uid ? { preconditions: { uid } } : {}),
      },
    });
  }

  /** True when the API server serves `ref` (used to detect optional CRDs). */
  async serves(ref: ResourceRef): Promise<boolean> {
    const prefix = ref.apiVersion.includes('/')
      ? `/apis/${ref.apiVersion}`
      : `/api/${ref.apiVersion}`;
    try {
      const list = await this.request<{ resources: { name: string }[] }>('GET', prefix);
      return list.resources.some((r) => r.name === ref.plural);
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  private async send(method: string, path: string, opts: RequestOptions): Promise<IncomingMessage> {
    // applyToHTTPSOptions reads the token each time (in-cluster tokens rotate).
    const auth: https.RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(auth);
    this.agent ??= this.makeAgent(auth);
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = {
      ...(auth.headers as Record<string, string> | undefined),
      Accept: 'application/json',
      'User-Agent': this.userAgent,
    };
    if (body !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    this.options.onRequest?.(method, path);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = transport.request(url, {
        method,
        headers,
        agent: this.agent,
        ...(auth.auth ? { auth: auth.auth } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        timeout: opts.timeoutMs ?? 30_000,
      });
      req.on('response', resolve);
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.end(body);
    });
  }

  private makeAgent(auth: https.RequestOptions): http.Agent {
    if (this.server.protocol !== 'https:') return new http.Agent({ keepAlive: true });
    return new https.Agent({
      keepAlive: true,
      maxSockets: 64,
      ...(auth.ca ? { ca: auth.ca } : {}),
      ...(auth.cert ? { cert: auth.cert } : {}),
      ...(auth.key ? { key: auth.key } : {}),
      ...(auth.rejectUnauthorized !== undefined
        ? { rejectUnauthorized: auth.rejectUnauthorized }
        : {}),
      ...(auth.servername ? { servername: auth.servername } : {}),
    });
  }

  /** Closes pooled connections (at shutdown). */
  close(): void {
    this.agent?.destroy();
  }
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function toApiError(status: number, text: string, what: string): ApiError {
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string; details?: unknown };
    return new ApiError(status, s.reason ?? 'Unknown', `${what}: ${s.message ?? text}`, s.details);
  } catch {
    return new ApiError(status, 'Unknown', `${what}: HTTP ${status} ${text.slice(0, 200)}`);
  }
}
