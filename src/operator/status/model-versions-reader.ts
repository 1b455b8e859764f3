// Reads, every interval, which versions the pods of each ModelDeployment with
// spec.model.versionPolicy hold (their own /metrics), and keeps the result for
// the reconciler to write as status.model; when it changes, the model is
// enqueued. A poller beside the reconcile, as the builtin autoscaler is: a
// new version directory changes no object the operator watches, and a
// reconcile never waits on a pod's answer. Every read is bounded
// (pod-scrape.ts); a failed one becomes status.model.message, never an error.
import type { V1Pod } from '@kubernetes/client-node';
import type { ModelVersionsStatus } from '../../api/v1alpha1/index.js';
import { LABEL_MODEL } from '../builders/labels.js';
import type { KindCache } from '../kube/cache.js';
import type { KubeObject, ModelDeploymentObject } from '../kube/types.js';
import { objectKey } from '../kube/types.js';
import type { EventSink } from '../events.js';
import type { Logger } from '../logger.js';
import { scrapePods } from '../metrics-source/pod-scrape.js';
import type { Fetcher } from '../metrics-source/prometheus.js';
import { httpFetcher } from '../metrics-source/prometheus.js';
import { stableStringify } from '../stable-stringify.js';
import { RUNTIME_CONTAINER } from '../builders/deployment.js';
import { modelVersionsStatus } from './model-versions.js';
import { REASON } from './reasons.js';

export interface ModelVersionsReaderDeps {
  modelDeployments: KindCache<ModelDeploymentObject>;
  pods: KindCache<KubeObject>;
  logger: Logger;
  enqueue: (key: string) => void;
  events?: EventSink;
  fetchText?: Fetcher;
  /** Default 5 s: status follows a new version within a few seconds of the pods. */
  intervalMs?: number;
}

/** Pods whose runtime runs (it answers /metrics while it loads) and that are not going away. */
export function readablePods(pods: readonly V1Pod[]): V1Pod[] {
  return pods.filter(
    (p) =>
      !p.metadata?.deletionTimestamp &&
      p.status?.phase === 'Running' &&
      p.status.containerStatuses?.some((c) => c.name === RUNTIME_CONTAINER && c.state?.running),
  );
}

export class ModelVersionsReader {
  private readonly state = new Map<string, ModelVersionsStatus>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: ModelVersionsReaderDeps) {}

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => (this.running = undefined));
    }, this.deps.intervalMs ?? 5000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** The versions last read for a model (namespace/name), undefined before the first read. */
  statusFor(key: string): ModelVersionsStatus | undefined {
    return this.state.get(key);
  }

  /** Reads every model with a version policy at once; one model's pods never hold up another's. */
  async tick(): Promise<void> {
    const models = this.deps.modelDeployments.list(
      undefined,
      (md) => md.spec?.model?.versionPolicy !== undefined,
    );
    const keys = new Set(models.map((m) => objectKey(m)));
    for (const key of this.state.keys()) if (!keys.has(key)) this.state.delete(key);
    await Promise.all(models.map((md) => this.read(md)));
  }

  private async read(md: ModelDeploymentObject): Promise<void> {
    const key = objectKey(md);
    const name = md.metadata.name;
    const pods = this.deps.pods.list(
      md.metadata.namespace,
      (p) => p.metadata.labels?.[LABEL_MODEL] === name,
    ) as V1Pod[];
    const scrapes = await scrapePods(readablePods(pods), this.deps.fetchText ?? httpFetcher);
    const status = modelVersionsStatus(name, scrapes);
    const previous = this.state.get(key);
    this.state.set(key, status);
    if (stableStringify(status) === stableStringify(previous)) return;
    this.report(
      md,
      status,
      previous,
      scrapes.some((s) => 'error' in s),
    );
    this.deps.enqueue(key);
  }

  /** Events for what turned worse since the last read: pods unread, versions newly failed. */
  private report(
    md: ModelDeploymentObject,
    status: ModelVersionsStatus,
    previous: ModelVersionsStatus | undefined,
    unread: boolean,
  ): void {
    const { events, logger } = this.deps;
    if (unread && status.message !== previous?.message) {
      logger.warn('model versions not read from every pod', {
        key: objectKey(md),
        message: status.message,
      });
      events?.emit(md, 'Warning', REASON.ModelVersionsUnread, status.message ?? '', 'ReadVersions');
    }
    const failedBefore = new Set(
      (previous?.versions ?? []).filter((v) => v.state === 'FAILED').map((v) => v.version),
    );
    for (const v of status.versions ?? []) {
      if (v.state !== 'FAILED' || failedBefore.has(v.version)) continue;
      events?.emit(
        md,
        'Warning',
        REASON.VersionLoadFailed,
        `version ${v.version} failed to load on ${v.replicas} pod(s); GET /v1/models/${md.metadata.name} on such a pod has the error`,
        'ReadVersions',
      );
    }
  }
}
