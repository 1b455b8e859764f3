// Reconciles one ModelDeployment, top to bottom: read it from the cache ->
// gone or deleting? forget it -> check the spec -> decide the rollout ->
// build every desired object, apply the ones that differ and delete the ones
// no longer wanted (owned-objects.ts) -> assemble status (status/compute.ts)
// and write it when it changed (status/writer.ts). Level-triggered and
// idempotent: running it twice in a row writes nothing the second time.
import type { V1Deployment, V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import { validateServedSpec } from '../api/json-schema.js';
import type { ModelVersionsStatus } from '../api/v1alpha1/index.js';
import type { BuilderConfig } from './builders/deployment.js';
import {
  IN_PLACE,
  ROLLOUT_MODE_ANNOTATION,
  buildDeployment,
  buildPodTemplate,
  gpuRequest,
} from './builders/deployment.js';
import { buildHorizontalPodAutoscaler } from './builders/horizontal-pod-autoscaler.js';
import {
  buildHTTPRoute,
  buildTrackService,
  routeWeight,
  trackServiceName,
} from './builders/http-route.js';
import { LABEL_MODEL, deploymentName } from './builders/labels.js';
import { buildPodDisruptionBudget } from './builders/pod-disruption-budget.js';
import { buildPrometheusRule, wantsPrometheusRule } from './builders/prometheus-rule.js';
import { buildResourceClaimTemplate, draRequest } from './builders/resource-claim-template.js';
import { buildScaledObject } from './builders/scaled-object.js';
import { buildServiceMonitor, wantsServiceMonitor } from './builders/service-monitor.js';
import { buildService } from './builders/service.js';
import type { AutoscalingStatus } from './autoscaling/builtin.js';
import type { ScaledObjectState } from './autoscaling/engine-status.js';
import { hpaStatus, scaledObjectStatus } from './autoscaling/engine-status.js';
import type { EventSink } from './events.js';
import type { ObjectCache } from './kube/cache.js';
import type { KubeClient } from './kube/client.js';
import { isNamespaceTerminating, isRejected } from './kube/client.js';
import { rfc3339 } from './kube/time.js';
import type { KubeObject, ModelDeploymentObject, ResourceRef } from './kube/types.js';
import { RESOURCES, objectKey, splitKey } from './kube/types.js';
import type { Logger } from './logger.js';
import { OwnedObjects, ownedBy } from './owned-objects.js';
import type { Reconciler, ReconcileResult } from './reconcile.js';
import { TerminalError } from './reconcile.js';
import type { AnalysisReader } from './rollout/analysis.js';
import { judgeAnalysis } from './rollout/analysis.js';
import type { CanaryDecision } from './rollout/canary.js';
import { decideCanary } from './rollout/canary.js';
import { decideRollout, surgeCheckNeeded } from './rollout/gpu-aware.js';
import type { GpuPodShape } from './rollout/gpu-capacity.js';
import { readSurgeSlots } from './rollout/gpu-capacity.js';
import { readDraSurgeSlots } from './rollout/dra-capacity.js';
import type { Problem } from './status/compute.js';
import { computeStatus } from './status/compute.js';
import { NamespaceDeletion } from './status/namespace-deletion.js';
import { routeProblems } from './status/route-status.js';
import { REASON } from './status/reasons.js';
import { routedPods } from './status/routed-pods.js';
import { StatusWriter } from './status/writer.js';

export interface OwnedCaches {
  modelDeployments: ObjectCache<ModelDeploymentObject>;
  deployments: ObjectCache<KubeObject>;
  services: ObjectCache<KubeObject>;
  podDisruptionBudgets: ObjectCache<KubeObject>;
  horizontalPodAutoscalers: ObjectCache<KubeObject>;
  pods: ObjectCache<KubeObject>;
  /** The models' Services' endpoint slices: which pods the Service routes to. */
  endpointSlices: ObjectCache<KubeObject>;
}

export interface ReconcilerDeps {
  client: KubeClient;
  caches: OwnedCaches;
  config: BuilderConfig;
  events: EventSink;
  logger: Logger;
  /** The cache of a kind whose CRD is optional, or undefined when the CRD is not installed. */
  optionalKind: (ref: ResourceRef) => Promise<ObjectCache<KubeObject> | undefined>;
  /** Called when an optional kind's CRD turns out to be gone (404 on apply). */
  optionalKindGone?: (ref: ResourceRef) => Promise<void>;
  /** Prometheus for KEDA triggers (operator configuration). */
  prometheusUrl?: string;
  /** Counts free GPU room for surge pods (default: lists nodes and their pods). */
  readSurgeSlots?: typeof readSurgeSlots;
  /** Counts free DRA device room for surge pods (default: lists nodes, ResourceSlices and ResourceClaims). */
  readDraSurgeSlots?: typeof readDraSurgeSlots;
  /** Reads canary figures (Prometheus or the pods); without one, analyses wait. */
  analysis?: AnalysisReader;
  /** What the builtin autoscaler last saw and did for a model (namespace/name). */
  autoscalingStatus?: (key: string) => AutoscalingStatus | undefined;
  /** Which versions the pods of a model (namespace/name) with a version policy hold, as last read. */
  modelVersionsStatus?: (key: string) => ModelVersionsStatus | undefined;
  /** The clock of every decision and timestamp (default: the system's). */
  now?: () => Date;
}

const NOT_READY_REQUEUE_MS = 30_000;

export class ModelDeploymentReconciler implements Reconciler {
  private readonly now: () => Date;
  private readonly owned: OwnedObjects;
  private readonly status: StatusWriter;
  /** The last canary verdict logged at info per key: version, step and outcome. */
  private readonly analysisVerdicts = new Map<string, string>();
  /** Which namespaces are being deleted (status/namespace-deletion.ts). */
  private readonly namespaceDeletion: NamespaceDeletion;

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? (() => new Date());
    const { now } = this;
    const { client, logger, events, optionalKindGone } = deps;
    this.owned = new OwnedObjects({ client, logger, now, optionalKindGone });
    this.status = new StatusWriter({ client, events, now });
    this.namespaceDeletion = new NamespaceDeletion(deps.client, () => now().getTime());
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const md = this.status.withOwnStatus(this.deps.caches.modelDeployments.get(namespace, name));
    if (!md || md.metadata.deletionTimestamp) {
      // Owned objects are garbage-collected through their owner references.
      this.forget(key);
      return {};
    }
    // Its namespace is being deleted: every write would be wasted (or refused).
    if (await this.namespaceDeletion.terminating(namespace)) return {};

    const specErrors = validateServedSpec(structuredClone(md.spec));
    if (specErrors.length > 0) {
      const message = specErrors.map((e) => `${e.path}: ${e.message}`).join('; ');
      await this.status.fail(md, REASON.InvalidSpec, message);
      throw new TerminalError(`invalid spec: ${message}`);
    }

    const problems: Problem[] = [];
    const c = this.deps.caches;
    const pods = c.pods.list(
      namespace,
      (p) => p.metadata.labels?.[LABEL_MODEL] === name,
    ) as V1Pod[];
    const observedStable = c.deployments.get(namespace, name) as V1Deployment | undefined;
    const observedCanary = c.deployments.get(namespace, deploymentName(md, 'canary')) as
      V1Deployment | undefined;
    const canary = await this.decideCanary(md, observedStable, observedCanary, pods);
    // GPU-aware replacement applies when the stable track moves to the target.
    const rollout = canary.active
      ? { inPlace: false }
      : decideRollout(
          md,
          this.deps.config,
          observedStable,
          pods,
          surgeCheckNeeded(md, this.deps.config, observedStable)
            ? await this.surgeSlots(md)
            : undefined,
        );
    if (
      rollout.inPlace &&
      observedStable?.metadata?.annotations?.[ROLLOUT_MODE_ANNOTATION] !== IN_PLACE
    ) {
      this.deps.events.emit(
        md,
        'Normal',
        REASON.ReplacingInPlace,
        rollout.message ?? '',
        'Rollout',
      );
    }
    let tracks: { deployment?: KubeObject; canaryDeployment?: KubeObject };
    try {
      // The route moves before the tracks do: traffic leaves the canary before
      // its Deployment is deleted.
      const weight =
        canary.canary === 'delete'
          ? 0
          : routeWeight(canary.status, observedCanary?.status?.availableReplicas ?? 0);
      await this.reconcileTrafficRouting(md, weight, problems);
      // Before the tracks: their pods name the template.
      await this.reconcileResourceClaimTemplate(md, pods, problems);
      tracks = await this.reconcileTracks(md, canary, rollout.inPlace, observedCanary, problems);
      await this.owned.ensure(md, RESOURCES.service, c.services, buildService(md), problems);
      await this.owned.ensureOptional(
        md,
        RESOURCES.podDisruptionBudget,
        c.podDisruptionBudgets,
        buildPodDisruptionBudget(md),
        problems,
      );
      await this.owned.ensureOptional(
        md,
        RESOURCES.horizontalPodAutoscaler,
        c.horizontalPodAutoscalers,
        buildHorizontalPodAutoscaler(md),
        problems,
      );
      await this.reconcileMonitoringObject(md, problems, {
        resource: RESOURCES.serviceMonitor,
        field: 'monitoring.serviceMonitor',
        enabled: md.spec.monitoring.serviceMonitor.enabled,
        reason: REASON.ServiceMonitorCRDMissing,
        crd: 'ServiceMonitor',
        desired: () => (wantsServiceMonitor(md, true) ? buildServiceMonitor(md) : undefined),
      });
      await this.reconcileMonitoringObject(md, problems, {
        resource: RESOURCES.prometheusRule,
        field: 'monitoring.slo',
        enabled: md.spec.monitoring.slo?.enabled,
        reason: REASON.PrometheusRuleCRDMissing,
        crd: 'PrometheusRule',
        desired: () => (wantsPrometheusRule(md, true) ? buildPrometheusRule(md) : undefined),
      });
      await this.reconcileScaledObject(md, problems);
    } catch (err) {
      // The namespace is being deleted, and the model with it: nothing to report.
      if (isNamespaceTerminating(err)) {
        this.namespaceDeletion.markTerminating(namespace);
        return {};
      }
      // A write the API server refused (e.g. an affinity it finds invalid) is
      // reported on the object; the controller still retries with backoff.
      if (isRejected(err)) await this.status.fail(md, REASON.ApplyFailed, err.message);
      throw err;
    }

    const autoscaling = await this.autoscalingStatus(md, key);
    // What the pods were last read to hold (status.model, with a version policy only).
    const modelVersions = this.deps.modelVersionsStatus?.(key);
    const status = computeStatus(md, {
      ...(tracks.deployment ? { deployment: tracks.deployment } : {}),
      ...(tracks.canaryDeployment ? { canaryDeployment: tracks.canaryDeployment } : {}),
      pods,
      routed: routedPods(c.endpointSlices.list(namespace) as V1EndpointSlice[], name),
      problems,
      now: rfc3339(this.now()),
      ...(rollout.inPlace && rollout.message
        ? { rolloutNote: { reason: REASON.ReplacingInPlace, message: rollout.message } }
        : {}),
      ...(canary.verdict && canary.status
        ? { canary: { ...canary.verdict, stableVersion: canary.status.stableVersion } }
        : {}),
      ...(canary.status ? { canaryStatus: canary.status } : {}),
      ...(autoscaling ? { autoscaling } : {}),
      ...(modelVersions ? { modelVersions } : {}),
    });
    const deferMs = await this.status.update(md, status);
    if (deferMs > 0) return { requeueAfterMs: deferMs };
    for (const e of canary.events)
      this.deps.events.emit(md, e.type, e.reason, e.message, 'Rollout');

    const ready = status.conditions?.find((x) => x.type === 'Ready')?.status === 'True';
    const stalled = status.conditions?.find((x) => x.type === 'Stalled')?.status === 'True';
    const waits = [
      ...(canary.requeueAfterMs !== undefined ? [canary.requeueAfterMs] : []),
      ...(ready || stalled ? [] : [NOT_READY_REQUEUE_MS]),
    ];
    return waits.length ? { requeueAfterMs: Math.min(...waits) } : {};
  }

  /** Free room for surge pods of this model's GPU shape, or undefined when unknown. */
  private surgeSlots(md: ModelDeploymentObject): Promise<number | undefined> {
    const pod = buildPodTemplate(md, this.deps.config).spec!;
    const placement = {
      ...(md.spec.resources.gpu?.product ? { product: md.spec.resources.gpu.product } : {}),
      ...(pod.nodeSelector ? { nodeSelector: pod.nodeSelector } : {}),
      tolerations: pod.tolerations ?? [],
    };
    const dra = draRequest(md);
    if (dra) {
      const read = this.deps.readDraSurgeSlots ?? readDraSurgeSlots;
      return read(this.deps.client, { ...placement, ...dra });
    }
    const shape: GpuPodShape = { ...gpuRequest(md, this.deps.config)!, ...placement };
    return (this.deps.readSurgeSlots ?? readSurgeSlots)(this.deps.client, shape);
  }

  /** What the engine in charge of replicas last saw and did. */
  private async autoscalingStatus(
    md: ModelDeploymentObject,
    key: string,
  ): Promise<AutoscalingStatus | undefined> {
    const { namespace, name } = splitKey(key);
    switch (md.spec.autoscaling.engine) {
      case 'none':
        return undefined;
      case 'builtin':
        return this.deps.autoscalingStatus?.(key) ?? { engine: 'builtin' };
      case 'hpa':
        return hpaStatus(this.deps.caches.horizontalPodAutoscalers.get(namespace, name));
      case 'keda': {
        const cache = await this.deps.optionalKind(RESOURCES.scaledObject);
        return scaledObjectStatus(cache?.get(namespace, name) as ScaledObjectState | undefined);
      }
    }
  }

  /**
   * The canary's decision for this pass; when an analysis is due, reads the
   * figures (the only I/O) and decides again with the verdict.
   */
  private async decideCanary(
    md: ModelDeploymentObject,
    stable: V1Deployment | undefined,
    canary: V1Deployment | undefined,
    pods: V1Pod[],
  ): Promise<CanaryDecision> {
    const observed = {
      pods,
      now: this.now(),
      ...(stable ? { stable } : {}),
      ...(canary ? { canary } : {}),
    };
    const first = decideCanary(md, observed);
    if (!first.analysisSince || !first.status) return first;
    const figures = this.deps.analysis
      ? await this.deps.analysis.read({
          md,
          canaryVersion: first.status.version,
          stableVersion: first.status.stableVersion,
          since: first.analysisSince,
          now: observed.now,
          pods,
        })
      : { error: 'no analysis source configured' };
    const verdict = judgeAnalysis(md, figures, rfc3339(this.now()));
    // A waiting canary is analysed every few seconds: info when the verdict
    // turns (and for each step's first), debug while it holds.
    const key = objectKey(md);
    const turn = `${first.status.version} ${first.status.step} ${verdict.passed}`;
    const level = this.analysisVerdicts.get(key) === turn ? 'debug' : 'info';
    this.analysisVerdicts.set(key, turn);
    this.deps.logger[level]('canary analysis', {
      key,
      passed: verdict.passed,
      message: verdict.message,
    });
    return decideCanary(md, observed, verdict);
  }

  /**
   * A Prometheus Operator object (ServiceMonitor, PrometheusRule): written when
   * `wanted` and its CRD is installed; with `enabled: "true"` and no CRD, the
   * model reports `reason` instead.
   */
  private async reconcileMonitoringObject(
    md: ModelDeploymentObject,
    problems: Problem[],
    kind: {
      resource: (typeof RESOURCES)['serviceMonitor' | 'prometheusRule'];
      field: string;
      enabled: string | undefined;
      reason: typeof REASON.ServiceMonitorCRDMissing | typeof REASON.PrometheusRuleCRDMissing;
      crd: string;
      desired: () => KubeObject | undefined;
    },
  ): Promise<void> {
    const cache = await this.deps.optionalKind(kind.resource);
    if (!cache) {
      if (kind.enabled === 'true') {
        problems.push({
          reason: kind.reason,
          message: `${kind.field}.enabled is "true" but the ${kind.crd} CRD (monitoring.coreos.com/v1) is not installed; install the Prometheus Operator or set enabled to "auto"`,
        });
      }
      return;
    }
    await this.owned.ensureOptional(md, kind.resource, cache, kind.desired(), problems);
  }

  private async reconcileScaledObject(
    md: ModelDeploymentObject,
    problems: Problem[],
  ): Promise<void> {
    const wanted = md.spec.autoscaling.engine === 'keda';
    const cache = await this.deps.optionalKind(RESOURCES.scaledObject);
    if (!cache) {
      if (wanted) {
        problems.push({
          reason: REASON.KEDANotInstalled,
          message:
            'autoscaling.engine is keda but the ScaledObject CRD (keda.sh/v1alpha1) is not installed; install KEDA or choose engine builtin',
        });
      }
      return;
    }
    const built = wanted ? buildScaledObject(md, this.deps.prometheusUrl ?? '') : undefined;
    if (built && 'problem' in built) {
      problems.push(built.problem);
      return;
    }
    await this.owned.ensureOptional(md, RESOURCES.scaledObject, cache, built, problems);
  }

  /**
   * The ResourceClaimTemplate of a model whose GPUs come through DRA. Earlier
   * templates of the model (a changed request gets a new name) are deleted
   * once no pod of the model names them any more.
   */
  private async reconcileResourceClaimTemplate(
    md: ModelDeploymentObject,
    pods: V1Pod[],
    problems: Problem[],
  ): Promise<void> {
    const desired = buildResourceClaimTemplate(md);
    const ref = RESOURCES.resourceClaimTemplate;
    const cache = await this.deps.optionalKind(ref);
    if (!cache) {
      if (desired) {
        problems.push({
          reason: REASON.DRANotServed,
          message:
            'resources.gpu.dra is set but this cluster does not serve Dynamic Resource Allocation (resource.k8s.io/v1 needs Kubernetes 1.34 or later); ask for GPUs through the device plugin instead (remove dra)',
        });
      }
      return;
    }
    if (desired) await this.owned.ensure(md, ref, cache, desired, problems);
    const inUse = new Set(
      pods.flatMap((p) => (p.spec?.resourceClaims ?? []).map((c) => c.resourceClaimTemplateName)),
    );
    for (const t of cache.list(md.metadata.namespace, (o) => ownedBy(o, md))) {
      if (t.metadata.name === desired?.metadata.name || inUse.has(t.metadata.name)) continue;
      await this.owned.delete(md, ref, cache, t.metadata.name);
    }
  }

  /** The stable Deployment, and the canary's as the decision wants it; returns both as they now are. */
  private async reconcileTracks(
    md: ModelDeploymentObject,
    canary: CanaryDecision,
    inPlace: boolean,
    observedCanary: V1Deployment | undefined,
    problems: Problem[],
  ): Promise<{ deployment?: KubeObject; canaryDeployment?: KubeObject }> {
    const { config, caches } = this.deps;
    const deployment = await this.owned.ensure(
      md,
      RESOURCES.deployment,
      caches.deployments,
      buildDeployment(md, config, { ...canary.stable, inPlace }),
      problems,
    );
    const canaryName = deploymentName(md, 'canary');
    let canaryDeployment: KubeObject | undefined;
    if (canary.canary === 'keep') canaryDeployment = observedCanary as KubeObject | undefined;
    else if (canary.canary === 'delete') {
      await this.owned.delete(md, RESOURCES.deployment, caches.deployments, canaryName);
    } else {
      canaryDeployment = await this.owned.ensure(
        md,
        RESOURCES.deployment,
        caches.deployments,
        buildDeployment(md, config, { track: 'canary', ...canary.canary }),
        problems,
      );
    }
    return {
      ...(deployment ? { deployment } : {}),
      ...(canaryDeployment ? { canaryDeployment } : {}),
    };
  }

  /** Track Services and the HTTPRoute when the spec routes canary traffic through a Gateway. */
  private async reconcileTrafficRouting(
    md: ModelDeploymentObject,
    canaryWeight: number,
    problems: Problem[],
  ): Promise<void> {
    const route = buildHTTPRoute(md, canaryWeight);
    const cache = await this.deps.optionalKind(RESOURCES.httpRoute);
    const services = this.deps.caches.services;
    if (route && !cache) {
      problems.push({
        reason: REASON.GatewayAPINotInstalled,
        message:
          'rollout.canary.trafficRouting.gatewayAPI is set but the HTTPRoute CRD (gateway.networking.k8s.io/v1) is not installed; canary traffic follows the pod ratio instead',
      });
    }
    for (const track of ['stable', 'canary'] as const) {
      if (route && cache) {
        await this.owned.ensure(
          md,
          RESOURCES.service,
          services,
          buildTrackService(md, track),
          problems,
        );
      } else {
        await this.owned.delete(md, RESOURCES.service, services, trackServiceName(md, track));
      }
    }
    if (cache && route) {
      const observed = await this.owned.ensure(md, RESOURCES.httpRoute, cache, route, problems);
      problems.push(...routeProblems(observed));
    } else if (cache) {
      await this.owned.delete(md, RESOURCES.httpRoute, cache, md.metadata.name);
    }
  }

  /** Drops everything remembered of a model that is gone. */
  private forget(key: string): void {
    this.status.forget(key);
    this.owned.forget(key);
    this.analysisVerdicts.delete(key);
  }
}
