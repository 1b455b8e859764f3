// Reconciles one ModelDeployment, top to bottom: read it from the cache ->
// gone or deleting? stop -> check the spec -> build every desired object ->
// apply the ones that differ -> delete the ones no longer wanted -> write
// status when it changed -> record events for transitions. Level-triggered and
// idempotent: running it twice in a row writes nothing the second time.
import type { V1Deployment, V1EndpointSlice, V1Pod } from '@kubernetes/client-node';
import type { ModelDeploymentStatus } from '../api/v1alpha1/index.js';
import { validateServedSpec } from '../api/json-schema.js';
import type { BuilderConfig } from './builders/deployment.js';
import { buildDeployment, gpuRequest } from './builders/deployment.js';
import { buildHorizontalPodAutoscaler } from './builders/horizontal-pod-autoscaler.js';
import {
  buildHTTPRoute,
  buildTrackService,
  routeWeight,
  trackServiceName,
} from './builders/http-route.js';
import { LABEL_MODEL, deploymentName } from './builders/labels.js';
import { buildPodDisruptionBudget } from './builders/pod-disruption-budget.js';
import { buildService } from './builders/service.js';
import { routeProblems } from './status/route-status.js';
import { NamespaceDeletion } from './status/namespace-deletion.js';
import { buildScaledObject } from './builders/scaled-object.js';
import { buildServiceMonitor, wantsServiceMonitor } from './builders/service-monitor.js';
import type { EventSink } from './events.js';
import type { KindCache } from './kube/cache.js';
import type { KubeClient } from './kube/client.js';
import { ApiError, isNotFound } from './kube/client.js';
import { APPLIED_HASH, needsApply, withAppliedHash } from './kube/compare.js';
import { blockingFieldsPatch } from './kube/blocking-fields.js';
import type { KubeObject, ModelDeploymentObject, ResourceRef } from './kube/types.js';
import { RESOURCES, objectKey, splitKey } from './kube/types.js';
import { rfc3339 } from './kube/time.js';
import type { Logger } from './logger.js';
import type { Problem } from './status/compute.js';
import { computeStatus, setCondition } from './status/compute.js';
import { routedPods } from './status/routed-pods.js';
import { stableStringify } from './stable-stringify.js';
import type { AutoscalingStatus } from './autoscaling/builtin.js';
import type { ScaledObjectState } from './autoscaling/engine-status.js';
import { hpaStatus, scaledObjectStatus } from './autoscaling/engine-status.js';
import { IN_PLACE, ROLLOUT_MODE_ANNOTATION } from './builders/deployment.js';
import type { AnalysisReader } from './rollout/analysis.js';
import { judgeAnalysis } from './rollout/analysis.js';
import type { CanaryDecision } from './rollout/canary.js';
import { decideCanary } from './rollout/canary.js';
import { decideRollout, surgeCheckNeeded } from './rollout/gpu-aware.js';
import type { GpuPodShape } from './rollout/gpu-capacity.js';
import { readSurgeSlots } from './rollout/gpu-capacity.js';
import type { Reconciler, ReconcileResult } from './reconcile.js';
import { TerminalError } from './reconcile.js';

export interface OwnedCaches {
  modelDeployments: KindCache<ModelDeploymentObject>;
  deployments: KindCache<KubeObject>;
  services: KindCache<KubeObject>;
  podDisruptionBudgets: KindCache<KubeObject>;
  horizontalPodAutoscalers: KindCache<KubeObject>;
  pods: KindCache<KubeObject>;
  /** The models' Services' endpoint slices: which pods the Service routes to. */
  endpointSlices: KindCache<KubeObject>;
}

export interface ReconcilerDeps {
  client: KubeClient;
  caches: OwnedCaches;
  config: BuilderConfig;
  events: EventSink;
  logger: Logger;
  /** The cache of a kind whose CRD is optional, or undefined when the CRD is not installed. */
  optionalKind: (ref: ResourceRef) => Promise<KindCache<KubeObject> | undefined>;
  /** Called when an optional kind's CRD turns out to be gone (404 on apply). */
  optionalKindGone?: (ref: ResourceRef) => Promise<void>;
  /** Prometheus for KEDA triggers (operator configuration). */
  prometheusUrl?: string;
  /** Counts free GPU room for surge pods (default: lists nodes and their pods). */
  readSurgeSlots?: typeof readSurgeSlots;
  /** Reads canary figures (Prometheus or the pods); without one, analyses wait. */
  analysis?: AnalysisReader;
  /** What the builtin autoscaler last saw and did for a model (namespace/name). */
  autoscalingStatus?: (key: string) => AutoscalingStatus | undefined;
  now?: () => Date;
}

/** How long a write we made is trusted over a cache that has not caught up yet. */
const APPLY_MEMO_MS = 30_000;
const NOT_READY_REQUEUE_MS = 30_000;
/** Longest a counters-only status change waits to be folded into a transition. */
export const STATUS_COALESCE_MS = 5_000;

export class ModelDeploymentReconciler implements Reconciler {
  /**
   * What we last applied per object: the content's hash, when, and the
   * object's resourceVersion before and after our write. Only those two
   * versions may be skipped; any other is a change someone made since.
   */
  private readonly applied = new Map<
    string,
    { hash: string; at: number; before: string | undefined; after: string | undefined }
  >();
  /** Keys whose minor status change is being held back, with since when. */
  private readonly deferred = new Map<string, number>();
  /** The status we last wrote per key, trusted over a cache that has not caught up yet. */
  private readonly written = new Map<string, { status: ModelDeploymentStatus; at: number }>();
  private readonly now: () => Date;
  /** The last canary verdict logged at info per key: version, step and outcome. */
  private readonly analysisVerdicts = new Map<string, string>();
  /** Which namespaces are being deleted (status/namespace-deletion.ts). */
  private readonly namespaceDeletion: NamespaceDeletion;

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.namespaceDeletion = new NamespaceDeletion(deps.client);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const md = this.withOwnStatus(key, this.deps.caches.modelDeployments.get(namespace, name));
    if (!md || md.metadata.deletionTimestamp) {
      // Owned objects are garbage-collected through their owner references.
      this.forget(namespace, name);
      return {};
    }
    // Its namespace is being deleted: every write would be wasted (or refused).
    if (await this.namespaceDeletion.terminating(namespace)) return {};

    const specErrors = validateServedSpec(structuredClone(md.spec));
    if (specErrors.length > 0) {
      const message = specErrors.map((e) => `${e.path}: ${e.message}`).join('; ');
      await this.writeFailure(md, 'InvalidSpec', message);
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
      this.deps.events.emit(md, 'Normal', 'ReplacingInPlace', rollout.message ?? '', 'Rollout');
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
      tracks = await this.reconcileTracks(md, canary, rollout.inPlace, observedCanary, problems);
      await this.ensure(md, RESOURCES.service, c.services, buildService(md), problems);
      await this.ensureOptional(
        md,
        RESOURCES.podDisruptionBudget,
        c.podDisruptionBudgets,
        buildPodDisruptionBudget(md),
        problems,
      );
      await this.ensureOptional(
        md,
        RESOURCES.horizontalPodAutoscaler,
        c.horizontalPodAutoscalers,
        buildHorizontalPodAutoscaler(md),
        problems,
      );
      await this.reconcileServiceMonitor(md, problems);
      await this.reconcileScaledObject(md, problems);
    } catch (err) {
      // The namespace is being deleted, and the model with it: nothing to report.
      if (namespaceTerminating(err)) {
        this.namespaceDeletion.markTerminating(namespace);
        return {};
      }
      // A write the API server refused (e.g. an affinity it finds invalid) is
      // reported on the object; the controller still retries with backoff.
      if (isRejected(err)) {
        await this.writeFailure(md, 'ApplyFailed', err.message);
      }
      throw err;
    }

    const status = computeStatus(md, {
      ...(tracks.deployment ? { deployment: tracks.deployment } : {}),
      ...(tracks.canaryDeployment ? { canaryDeployment: tracks.canaryDeployment } : {}),
      pods,
      routed: routedPods(c.endpointSlices.list(namespace) as V1EndpointSlice[], name),
      problems,
      now: this.timestamp(),
      ...(rollout.inPlace && rollout.message
        ? { rolloutNote: { reason: 'ReplacingInPlace', message: rollout.message } }
        : {}),
      ...(canary.verdict && canary.status
        ? { canary: { ...canary.verdict, stableVersion: canary.status.stableVersion } }
        : {}),
    });
    if (canary.status) status.canary = canary.status;
    else delete status.canary;
    const autoscaling = await this.autoscalingStatus(md, key);
    if (autoscaling) status.autoscaling = autoscaling;
    else delete status.autoscaling;
    const deferMs = this.statusDeferral(key, md.status ?? {}, status);
    if (deferMs > 0) return { requeueAfterMs: deferMs };
    await this.writeStatus(md, status);
    this.recordTransitions(md, md.status ?? {}, status);
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
    const gpu = gpuRequest(md, this.deps.config)!;
    const pod = buildDeployment(md, this.deps.config).spec!.template.spec!;
    const shape: GpuPodShape = {
      ...gpu,
      ...(md.spec.resources.gpu?.product ? { product: md.spec.resources.gpu.product } : {}),
      ...(pod.nodeSelector ? { nodeSelector: pod.nodeSelector } : {}),
      tolerations: pod.tolerations ?? [],
    };
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
    const verdict = judgeAnalysis(md, figures, this.timestamp());
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
   * The object with the status we wrote moments ago when the cache still
   * shows an older one. The operator is status's only writer, and decisions
   * made from a stale status (a canary step already taken) would repeat
   * their events.
   */
  private withOwnStatus(
    key: string,
    md: ModelDeploymentObject | undefined,
  ): ModelDeploymentObject | undefined {
    const memo = this.written.get(key);
    if (!md || !memo) return md;
    if (
      Date.now() - memo.at > APPLY_MEMO_MS ||
      stableStringify(md.status ?? {}) === stableStringify(memo.status)
    ) {
      this.written.delete(key);
      return md;
    }
    return { ...md, status: memo.status };
  }

  /**
   * How long to hold back a status change that only moves counters and
   * messages (a pod created, not yet ready): it is folded into the next
   * transition if one comes within STATUS_COALESCE_MS, else written then.
   * Transitions (condition status or reason, versions, history) go at once.
   */
  private statusDeferral(
    key: string,
    before: ModelDeploymentStatus,
    after: ModelDeploymentStatus,
  ): number {
    const since = this.deferred.get(key);
    const minor =
      stableStringify(significant(before)) === stableStringify(significant(after)) &&
      stableStringify(before) !== stableStringify(after);
    if (!minor) {
      this.deferred.delete(key);
      return 0;
    }
    const now = Date.now();
    if (since === undefined) {
      this.deferred.set(key, now);
      return STATUS_COALESCE_MS;
    }
    const left = since + STATUS_COALESCE_MS - now;
    if (left > 0) return left;
    this.deferred.delete(key);
    return 0;
  }

  /** Applies `desired` unless the cluster already has it; returns the object as it now is. */
  private async ensure(
    md: ModelDeploymentObject,
    ref: ResourceRef,
    cache: KindCache<KubeObject>,
    desired: KubeObject,
    problems: Problem[],
  ): Promise<KubeObject | undefined> {
    const stamped = withAppliedHash(
      desired as KubeObject & { metadata: { annotations?: Record<string, string> } },
    );
    // The cache holds only objects with our managed-by label; before creating,
    // make sure no one else's object of that name would be taken over.
    const observed =
      cache.get(desired.metadata.namespace ?? '', desired.metadata.name) ??
      (await this.getLive(ref, desired.metadata.namespace, desired.metadata.name));
    if (observed && !ownedBy(observed, md)) {
      problems.push({
        reason: 'NameConflict',
        message: `${ref.kind} ${desired.metadata.namespace}/${desired.metadata.name} already exists and is not owned by this ModelDeployment`,
      });
      return undefined;
    }
    const memoKey = `${ref.plural}/${desired.metadata.namespace}/${desired.metadata.name}`;
    const hash = stamped.metadata.annotations![APPLIED_HASH]!;
    // Being deleted (its namespace going, or by hand): writing to it now is
    // wasted; once it is gone the delete event brings us back to create it.
    if (observed?.metadata.deletionTimestamp) return observed;
    if (!needsApply(stamped, observed)) return observed;
    const memo = this.applied.get(memoKey);
    const version = observed?.metadata.resourceVersion;
    if (
      observed &&
      memo?.hash === hash &&
      Date.now() - memo.at < APPLY_MEMO_MS &&
      (version === memo.before || version === memo.after)
    ) {
      // We applied exactly this moments ago, and the cache shows the object as
      // it was just before our write (not caught up yet) or as our write left
      // it (the server keeps a form we cannot compare: writing again would not help).
      return observed;
    }
    const blocking = observed && blockingFieldsPatch(stamped, observed);
    if (blocking) {
      // A field another manager set makes our apply invalid: replace it first.
      // If the object changed meanwhile the patch's test fails; the apply
      // below then reports why, and the retry sees the object as it now is.
      await this.deps.client
        .jsonPatch(ref, desired.metadata.namespace, desired.metadata.name, blocking)
        .then(() =>
          this.deps.logger.info('replaced fields that blocked our apply', {
            kind: ref.kind,
            name: desired.metadata.name,
            removed: blocking.filter((o) => o.op === 'remove').map((o) => o.path),
          }),
        )
        .catch((err: unknown) =>
          this.deps.logger.info('could not replace fields that block our apply', {
            kind: ref.kind,
            name: desired.metadata.name,
            error: (err as Error).message,
          }),
        );
    }
    const result = await this.deps.client.apply<KubeObject>(ref, stamped);
    this.applied.set(memoKey, {
      hash,
      at: Date.now(),
      before: version,
      after: result.metadata.resourceVersion,
    });
    this.deps.logger.info('applied', {
      kind: ref.kind,
      name: desired.metadata.name,
      namespace: desired.metadata.namespace,
    });
    return result;
  }

  private async getLive(
    ref: ResourceRef,
    namespace: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined> {
    try {
      return await this.deps.client.get<KubeObject>(ref, name, namespace);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Applies the object when wanted; deletes our copy when it is not. */
  private async ensureOptional(
    md: ModelDeploymentObject,
    ref: ResourceRef,
    cache: KindCache<KubeObject>,
    desired: KubeObject | undefined,
    problems: Problem[],
  ): Promise<void> {
    if (desired) {
      try {
        await this.ensure(md, ref, cache, desired, problems);
      } catch (err) {
        // An apply creates a missing object: 404 means the kind itself is gone.
        if (!isNotFound(err) || this.deps.optionalKindGone === undefined) throw err;
        await this.deps.optionalKindGone(ref);
        throw new Error(`${ref.kind} is no longer served (its CRD was removed); reconciling again`);
      }
      return;
    }
    await this.deleteOwned(md, ref, cache, md.metadata.name);
  }

  /** Deletes our object of that name, if there is one. */
  private async deleteOwned(
    md: ModelDeploymentObject,
    ref: ResourceRef,
    cache: KindCache<KubeObject>,
    name: string,
  ): Promise<void> {
    const observed = cache.get(md.metadata.namespace!, name);
    if (observed && ownedBy(observed, md)) {
      try {
        await this.deps.client.delete(
          ref,
          observed.metadata.namespace,
          observed.metadata.name,
          observed.metadata.uid,
        );
        this.deps.logger.info('deleted', {
          kind: ref.kind,
          name: observed.metadata.name,
          namespace: observed.metadata.namespace,
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  private async reconcileServiceMonitor(
    md: ModelDeploymentObject,
    problems: Problem[],
  ): Promise<void> {
    const cache = await this.deps.optionalKind(RESOURCES.serviceMonitor);
    if (!cache) {
      if (md.spec.monitoring.serviceMonitor.enabled === 'true') {
        problems.push({
          reason: 'ServiceMonitorCRDMissing',
          message:
            'monitoring.serviceMonitor.enabled is "true" but the ServiceMonitor CRD (monitoring.coreos.com/v1) is not installed; install the Prometheus Operator or set enabled to "auto"',
        });
      }
      return;
    }
    const desired = wantsServiceMonitor(md, true)
      ? (buildServiceMonitor(md) as unknown as KubeObject)
      : undefined;
    await this.ensureOptional(md, RESOURCES.serviceMonitor, cache, desired, problems);
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
          reason: 'KEDANotInstalled',
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
    await this.ensureOptional(md, RESOURCES.scaledObject, cache, built, problems);
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
    const deployment = await this.ensure(
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
      await this.deleteOwned(md, RESOURCES.deployment, caches.deployments, canaryName);
    } else {
      canaryDeployment = await this.ensure(
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
        reason: 'GatewayAPINotInstalled',
        message:
          'rollout.canary.trafficRouting.gatewayAPI is set but the HTTPRoute CRD (gateway.networking.k8s.io/v1) is not installed; canary traffic follows the pod ratio instead',
      });
    }
    for (const track of ['stable', 'canary'] as const) {
      if (route && cache) {
        await this.ensure(md, RESOURCES.service, services, buildTrackService(md, track), problems);
      } else {
        await this.deleteOwned(md, RESOURCES.service, services, trackServiceName(md, track));
      }
    }
    if (cache && route) {
      const observed = await this.ensure(md, RESOURCES.httpRoute, cache, route, problems);
      problems.push(...routeProblems(observed));
    } else if (cache) {
      await this.deleteOwned(md, RESOURCES.httpRoute, cache, md.metadata.name);
    }
  }

  private async writeStatus(
    md: ModelDeploymentObject,
    status: ModelDeploymentStatus,
  ): Promise<void> {
    if (stableStringify(status) === stableStringify(md.status ?? {})) return;
    await this.deps.client.apply(
      RESOURCES.modelDeployment,
      {
        apiVersion: md.apiVersion,
        kind: md.kind,
        metadata: { name: md.metadata.name, namespace: md.metadata.namespace! },
        status,
      } as KubeObject,
      { subresource: 'status' },
    );
    this.written.set(objectKey(md), { status, at: Date.now() });
  }

  private async writeFailure(
    md: ModelDeploymentObject,
    reason: string,
    message: string,
  ): Promise<void> {
    const previous = md.status ?? {};
    const generation = md.metadata.generation ?? 0;
    const now = this.timestamp();
    let conditions = previous.conditions ?? [];
    for (const [type, value] of [
      ['Ready', false],
      ['Reconciling', false],
      ['Stalled', true],
    ] as const) {
      conditions = setCondition(conditions, type, value, reason, message, generation, now);
    }
    const status = { ...previous, observedGeneration: generation, conditions };
    if (stableStringify(status) !== stableStringify(previous)) {
      await this.writeStatus(md, status);
      this.deps.events.emit(md, 'Warning', reason, message);
    }
  }

  private recordTransitions(
    md: ModelDeploymentObject,
    before: ModelDeploymentStatus,
    after: ModelDeploymentStatus,
  ): void {
    const cond = (s: ModelDeploymentStatus, type: string) =>
      s.conditions?.find((c) => c.type === type);
    const readyBefore = cond(before, 'Ready');
    const readyAfter = cond(after, 'Ready');
    const stalledAfter = cond(after, 'Stalled');
    const stalledBefore = cond(before, 'Stalled');
    const head = after.history?.[0];
    const headBefore = before.history?.[0];
    if (
      head &&
      (headBefore?.version !== head.version || headBefore.uri !== head.uri) &&
      before.history?.length
    ) {
      this.deps.events.emit(
        md,
        'Normal',
        'RolloutStarted',
        `rolling out version ${head.version} from ${head.uri}`,
        'Rollout',
      );
    }
    // A new model becoming ready shows in its status; an event marks what a
    // user looks back for: a new version serving, or recovery from a failure
    // (like Deployments, which record no event for their first availability).
    const firstRollout = (before.history?.length ?? 0) <= 1 && stalledBefore?.status !== 'True';
    if (readyAfter?.status === 'True' && readyBefore?.status !== 'True' && !firstRollout) {
      this.deps.events.emit(md, 'Normal', 'ModelReady', readyAfter.message);
    }
    if (
      stalledAfter?.status === 'True' &&
      (stalledBefore?.status !== 'True' || stalledBefore.reason !== stalledAfter.reason)
    ) {
      this.deps.events.emit(md, 'Warning', stalledAfter.reason, stalledAfter.message);
    } else if (
      readyAfter?.status === 'False' &&
      readyAfter.reason === 'Unschedulable' &&
      readyBefore?.reason !== 'Unschedulable'
    ) {
      this.deps.events.emit(md, 'Warning', 'Unschedulable', readyAfter.message);
    }
  }

  private forget(namespace: string, name: string): void {
    this.deferred.delete(`${namespace}/${name}`);
    this.written.delete(`${namespace}/${name}`);
    this.analysisVerdicts.delete(`${namespace}/${name}`);
    for (const key of this.applied.keys()) {
      if (
        [name, `${name}-canary`, `${name}-stable`].some((n) => key.endsWith(`/${namespace}/${n}`))
      )
        this.applied.delete(key);
    }
  }

  private timestamp(): string {
    return rfc3339(this.now());
  }
}

/** The API server refuses new objects in a namespace that is being deleted. */
export function namespaceTerminating(err: unknown): boolean {
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

/** The parts of status whose change is a transition worth writing at once. */
export function significant(s: ModelDeploymentStatus): unknown {
  return {
    observedGeneration: s.observedGeneration,
    conditions: (s.conditions ?? []).map((c) => [c.type, c.status, c.reason]),
    targetVersion: s.targetVersion,
    history: s.history,
    canary: s.canary,
    autoscaling: s.autoscaling,
    selector: s.selector,
    url: s.url,
  };
}

/** True when `md` is the controller owner of `obj`. */
export function ownedBy(obj: KubeObject, md: ModelDeploymentObject): boolean {
  return (obj.metadata.ownerReferences ?? []).some(
    (o) => o.controller && o.uid === md.metadata.uid,
  );
}
