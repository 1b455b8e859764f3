// Assembles the operator: shared caches -> event handlers that only enqueue
// keys -> work queue -> controller workers, behind leader election, with the
// HTTP endpoint for metrics and probes.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { OperatorConfig } from './config.js';
import { Controller } from './controller.js';
import { EventRecorder } from './events.js';
import { OperatorHttpServer } from './http-server.js';
import type { KindCache } from './kube/cache.js';
import { SharedCache } from './kube/cache.js';
import { KubeClient } from './kube/client.js';
import type { InformerOptions } from './kube/informer.js';
import type { KubeObject, ModelDeploymentObject, ResourceRef } from './kube/types.js';
import { RESOURCES } from './kube/types.js';
import { LeaderElector } from './leader-election.js';
import type { Logger } from './logger.js';
import { OperatorMetrics } from './metrics.js';
import { ModelDeploymentReconciler } from './reconciler.js';
import { WorkQueue } from './workqueue.js';
import { BuiltinAutoscaler } from './autoscaling/builtin.js';
import { SignalReader } from './autoscaling/signal.js';
import { ModelVersionsReader } from './status/model-versions-reader.js';
import type { AnalysisReader } from './rollout/analysis.js';
import { PodScrapeAnalysis, PrometheusAnalysis } from './rollout/analysis.js';
import { GROUP } from '../api/group.js';
import { LABEL_MODEL, MANAGED_BY } from './builders/labels.js';

const OWNED_SELECTOR = `app.kubernetes.io/managed-by=${MANAGED_BY}`;
const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** How often optional CRDs (ServiceMonitor, PrometheusRule, ScaledObject, HTTPRoute) are looked for, to notice one installed or removed. */
const CRD_RECHECK_MS = 10_000;

export interface OperatorOptions {
  config: OperatorConfig;
  kubeConfig: KubeConfig;
  logger: Logger;
  identity?: string;
  /** Informer timing overrides, for tests. */
  informer?: Partial<InformerOptions<KubeObject>>;
  /** Set false to keep Node's default metrics out (several operators in one test process). */
  defaultMetrics?: boolean;
  /** False where pods are simulated (the embedded cluster): never scrape their IPs. */
  scrapePods?: boolean;
  /** How often the builtin autoscaler evaluates (default 15 s). */
  autoscalerIntervalMs?: number;
  /** How often the versions of models with a version policy are read from their pods (default 5 s). */
  versionsIntervalMs?: number;
  /** Pretends these optional CRDs (by plural, e.g. servicemonitors) are missing: tests of bare clusters. */
  missingCRDs?: string[];
}

export class Operator {
  readonly metrics: OperatorMetrics;
  readonly client: KubeClient;
  readonly cache: SharedCache;
  readonly queue: WorkQueue;
  readonly identity: string;
  private readonly controller: Controller;
  readonly autoscaler: BuiltinAutoscaler;
  /** Reads which versions the pods of models with a version policy hold (off where pods are simulated). */
  readonly versionsReader: ModelVersionsReader | undefined;
  private readonly elector: LeaderElector;
  /** The other operator last warned about (no leader election), so each is named once. */
  private warnedHolder: string | undefined;
  private readonly http: OperatorHttpServer;
  private readonly optionalKinds = new Map<
    string,
    { ref: ResourceRef; cache: KindCache<KubeObject> | undefined }
  >();
  private crdRecheck: NodeJS.Timeout | undefined;
  private controllersStarted = false;
  private stopping = false;
  httpPort = 0;
  /** Called when leadership is lost; the process should exit and restart as a candidate. */
  onLostLeadership: () => void = () => {};

  constructor(private readonly o: OperatorOptions) {
    const { config, logger } = o;
    this.identity = o.identity ?? `${hostname()}_${randomUUID().slice(0, 8)}`;
    this.metrics = new OperatorMetrics({ defaultMetrics: o.defaultMetrics ?? true });
    this.client = new KubeClient(o.kubeConfig, {
      userAgent: `tensorfleet-operator/${this.identity}`,
      onRequest: (method, path) => {
        if (!WRITE_VERBS.has(method)) return;
        this.metrics.apiWrites.inc({ verb: method, resource: resourceOf(path) });
      },
    });
    this.cache = new SharedCache(this.client, {
      namespaces: config.watchNamespaces,
      resyncPeriodMs: config.resyncPeriodSeconds * 1000,
      logger,
      ...(o.informer ? { informer: o.informer } : {}),
    });
    this.queue = new WorkQueue(undefined, this.metrics.workqueue);

    const modelDeployments = this.cache.kind<ModelDeploymentObject>(RESOURCES.modelDeployment);
    const owned = (ref: (typeof RESOURCES)[keyof typeof RESOURCES]) => {
      const cache = this.cache.kind<KubeObject>(ref, OWNED_SELECTOR);
      cache.addHandler(this.enqueueOwner());
      return cache;
    };
    modelDeployments.addHandler({
      onAdd: (md) => this.enqueue(md),
      onUpdate: (md) => this.enqueue(md),
      onDelete: (md) => this.enqueue(md),
    });
    const pods = this.cache.kind<KubeObject>(RESOURCES.pod, OWNED_SELECTOR);
    const enqueueModel = (p: KubeObject) => {
      const model = p.metadata.labels?.[LABEL_MODEL];
      if (model && p.metadata.namespace) this.queue.add(`${p.metadata.namespace}/${model}`);
    };
    pods.addHandler({ onAdd: enqueueModel, onUpdate: enqueueModel, onDelete: enqueueModel });
    // The Service's endpoint slices carry its labels (the model's among them).
    const endpointSlices = this.cache.kind<KubeObject>(RESOURCES.endpointSlice, OWNED_SELECTOR);
    endpointSlices.addHandler({
      onAdd: enqueueModel,
      onUpdate: enqueueModel,
      onDelete: enqueueModel,
    });

    this.autoscaler = new BuiltinAutoscaler({
      client: this.client,
      modelDeployments,
      pods,
      reader: new SignalReader(config.prometheusUrl, undefined, undefined, o.scrapePods ?? true),
      logger,
      enqueue: (key) => this.queue.add(key),
      ...(o.autoscalerIntervalMs ? { intervalMs: o.autoscalerIntervalMs } : {}),
    });
    const events = new EventRecorder(this.client, this.identity, logger);
    const scrapePods = o.scrapePods ?? true;
    this.versionsReader = scrapePods
      ? new ModelVersionsReader({
          modelDeployments,
          pods,
          logger,
          events,
          enqueue: (key) => this.queue.add(key),
          ...(o.versionsIntervalMs ? { intervalMs: o.versionsIntervalMs } : {}),
        })
      : undefined;
    const reader = this.versionsReader;
    const reconciler = new ModelDeploymentReconciler({
      client: this.client,
      config,
      events,
      logger,
      caches: {
        modelDeployments,
        deployments: owned(RESOURCES.deployment),
        services: owned(RESOURCES.service),
        podDisruptionBudgets: owned(RESOURCES.podDisruptionBudget),
        horizontalPodAutoscalers: owned(RESOURCES.horizontalPodAutoscaler),
        pods,
        endpointSlices,
      },
      optionalKind: (ref) => this.optionalKind(ref),
      optionalKindGone: (ref) => this.optionalKindGone(ref),
      prometheusUrl: config.prometheusUrl,
      ...analysisReader(config.prometheusUrl, o.scrapePods ?? true),
      autoscalingStatus: (key) => this.autoscaler.statusFor(key),
      modelVersionsStatus: reader
        ? (key) => reader.statusFor(key)
        : () => ({ message: 'the pods are simulated here: no runtime to read the versions from' }),
    });
    this.controller = new Controller(this.queue, reconciler, this.metrics, logger, config.workers);

    const lease = {
      namespace: config.leaderElectionNamespace,
      name: config.leaderElectionId,
      identity: this.identity,
      leaseDurationMs: config.leaseDurationSeconds * 1000,
      renewDeadlineMs: config.renewDeadlineSeconds * 1000,
      retryPeriodMs: config.retryPeriodSeconds * 1000,
      logger,
    };
    this.elector = config.leaderElect
      ? new LeaderElector(this.client, {
          ...lease,
          onStartedLeading: () => {
            this.metrics.leader.set({ name: 'tensorfleet' }, 1);
            void this.startControllers();
          },
          onStoppedLeading: () => {
            this.metrics.leader.set({ name: 'tensorfleet' }, 0);
            this.onLostLeadership();
          },
        })
      : // Without leader election this operator reconciles regardless; it holds
        // the Lease only so that a second operator is noticed (by either).
        new LeaderElector(this.client, {
          ...lease,
          advisory: true,
          onStartedLeading: () => {},
          onStoppedLeading: () => {},
          onHeldByOther: (holder) => this.warnOtherOperator(holder),
        });
    this.http = new OperatorHttpServer(this.metrics.registry, {
      healthy: () => !this.stopping,
      ready: () => this.cache.hasSynced(),
    });
  }

  async start(): Promise<void> {
    this.httpPort = await this.http.listen(this.o.config.httpAddress);
    this.cache.start();
    this.elector.start();
    if (!this.o.config.leaderElect) await this.startControllers();
  }

  /** Graceful shutdown: finish running reconciles, release the Lease, close watches. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.crdRecheck);
    await this.autoscaler.stop();
    await this.versionsReader?.stop();
    await this.controller.stop();
    await this.elector.stop();
    await this.cache.stop();
    await this.http.close();
    this.client.close();
  }

  private warnOtherOperator(holder: string): void {
    if (holder === this.warnedHolder) return;
    this.warnedHolder = holder;
    const { leaderElectionNamespace: ns, leaderElectionId: id } = this.o.config;
    this.o.logger.warn(
      "another operator holds the Lease: two operators without leader election reconcile the same ModelDeployments and undo each other's writes; run one, or start every one with --leader-elect",
      { lease: `${ns}/${id}`, holder },
    );
  }

  private async startControllers(): Promise<void> {
    if (this.controllersStarted) return;
    // Workers start only after a real list of every kind (a cache that has not
    // synced would make us create objects that already exist).
    await this.cache.waitForSync();
    if (this.stopping) return;
    this.controllersStarted = true;
    this.controller.start();
    this.autoscaler.start();
    this.versionsReader?.start();
    this.crdRecheck = setInterval(() => void this.recheckOptionalKinds(), CRD_RECHECK_MS);
    this.o.logger.info('controllers started', { workers: this.o.config.workers });
  }

  private enqueue(obj: KubeObject): void {
    this.queue.add(`${obj.metadata.namespace}/${obj.metadata.name}`);
  }

  private enqueueOwner() {
    const handle = (obj: KubeObject) => {
      const owner = obj.metadata.ownerReferences?.find(
        (o) => o.controller && o.kind === 'ModelDeployment' && o.apiVersion.startsWith(`${GROUP}/`),
      );
      if (owner && obj.metadata.namespace)
        this.queue.add(`${obj.metadata.namespace}/${owner.name}`);
    };
    return { onAdd: handle, onUpdate: handle, onDelete: handle };
  }

  /**
   * The shared cache of a kind whose CRD may be missing (ServiceMonitor,
   * ScaledObject), or undefined while it is; rechecked every minute, and the
   * cache starts (and syncs) when the CRD appears.
   */
  private async optionalKind(ref: ResourceRef): Promise<KindCache<KubeObject> | undefined> {
    const known = this.optionalKinds.get(ref.plural);
    if (known) return known.cache;
    const installed = await this.installed(ref);
    let cache: KindCache<KubeObject> | undefined;
    if (installed) {
      cache = this.cache.kind<KubeObject>(ref, OWNED_SELECTOR);
      cache.addHandler(this.enqueueOwner());
      await cache.waitForSync();
    }
    this.optionalKinds.set(ref.plural, { ref, cache });
    return cache;
  }

  private async installed(ref: ResourceRef): Promise<boolean> {
    return !(this.o.missingCRDs ?? []).includes(ref.plural) && (await this.client.serves(ref));
  }

  /**
   * An optional CRD was removed (an apply of its kind met 404): its cache is
   * dropped, and models reconcile as they do where it was never installed.
   */
  private async optionalKindGone(ref: ResourceRef): Promise<void> {
    if (this.optionalKinds.get(ref.plural)?.cache === undefined) return;
    this.o.logger.warn('optional CRD removed', { kind: ref.kind });
    this.optionalKinds.set(ref.plural, { ref, cache: undefined });
    await this.cache.forget(ref);
    this.enqueueAll();
  }

  /** Notices optional CRDs installed or removed since they were last looked for. */
  private async recheckOptionalKinds(): Promise<void> {
    for (const [plural, known] of this.optionalKinds) {
      let installed: boolean;
      try {
        installed = await this.installed(known.ref);
      } catch {
        continue; // the API server is unreachable: look again next time
      }
      if (installed === (known.cache !== undefined)) continue;
      if (!installed) {
        await this.optionalKindGone(known.ref);
        continue;
      }
      this.o.logger.info('optional CRD installed', { kind: known.ref.kind });
      this.optionalKinds.delete(plural);
      this.enqueueAll();
    }
  }

  private enqueueAll(): void {
    for (const md of this.cache.kind<ModelDeploymentObject>(RESOURCES.modelDeployment).list())
      this.enqueue(md);
  }
}

/** Canary figures from Prometheus when configured, else from the pods (never from simulated ones). */
function analysisReader(prometheusUrl: string, scrapePods: boolean): { analysis?: AnalysisReader } {
  if (prometheusUrl) return { analysis: new PrometheusAnalysis(prometheusUrl) };
  return scrapePods ? { analysis: new PodScrapeAnalysis() } : {};
}

/** The resource (and subresource) a REST path names: /apis/apps/v1/namespaces/ns/deployments/x -> deployments. */
export function resourceOf(path: string): string {
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  const nsIndex = parts.indexOf('namespaces');
  const start =
    nsIndex >= 0 && parts.length > nsIndex + 2 ? nsIndex + 2 : parts[0] === 'api' ? 2 : 3;
  const resource = parts[start] ?? path;
  const sub = parts[start + 2];
  return sub ? `${resource}/${sub}` : resource;
}
