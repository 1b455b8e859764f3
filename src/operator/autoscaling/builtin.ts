// The builtin autoscaling engine: every interval, for each ModelDeployment
// with engine builtin, read the signal, run the HPA algorithm and write the
// result through the scale subresource, the one writer of spec.replicas while
// the engine is on. What it saw and decided goes to status.autoscaling (the
// reconciler writes it; this only enqueues the model).
import type { V1Pod } from '@kubernetes/client-node';
import type { ModelDeploymentStatus } from '../../api/v1alpha1/index.js';
import { LABEL_MODEL } from '../builders/labels.js';
import type { KindCache } from '../kube/cache.js';
import type { KubeClient } from '../kube/client.js';
import type { KubeObject, ModelDeploymentObject } from '../kube/types.js';
import { RESOURCES, objectKey } from '../kube/types.js';
import { rfc3339 } from '../kube/time.js';
import type { Logger } from '../logger.js';
import { stableStringify } from '../stable-stringify.js';
import type { Recommendation } from './recommend.js';
import { clamp, recommend } from './recommend.js';
import type { SignalReader } from './signal.js';

export type AutoscalingStatus = NonNullable<ModelDeploymentStatus['autoscaling']>;

export interface BuiltinAutoscalerDeps {
  client: KubeClient;
  modelDeployments: KindCache<ModelDeploymentObject>;
  pods: KindCache<KubeObject>;
  reader: SignalReader;
  logger: Logger;
  enqueue: (key: string) => void;
  intervalMs?: number;
  now?: () => Date;
}

export class BuiltinAutoscaler {
  private readonly state = new Map<
    string,
    { history: Recommendation[]; status: AutoscalingStatus }
  >();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: BuiltinAutoscalerDeps) {}

  start(): void {
    const interval = this.deps.intervalMs ?? 15_000;
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => (this.running = undefined));
    }, interval);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** The autoscaling status of a model, for the reconciler to write. */
  statusFor(key: string): AutoscalingStatus | undefined {
    return this.state.get(key)?.status;
  }

  async tick(): Promise<void> {
    const models = this.deps.modelDeployments.list(
      undefined,
      (md) => md.spec?.autoscaling?.engine === 'builtin',
    );
    const keys = new Set(models.map((m) => objectKey(m)));
    for (const key of this.state.keys()) if (!keys.has(key)) this.state.delete(key);
    for (const md of models) {
      try {
        await this.evaluate(md);
      } catch (err) {
        this.deps.logger.warn('autoscaling failed', {
          key: objectKey(md),
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }

  async evaluate(md: ModelDeploymentObject): Promise<void> {
    const key = objectKey(md);
    const now = (this.deps.now ?? (() => new Date()))();
    const ns = md.metadata.namespace!;
    const name = md.metadata.name;
    const pods = this.deps.pods.list(
      ns,
      (p) => p.metadata.labels?.[LABEL_MODEL] === name,
    ) as V1Pod[];
    const previous = this.state.get(key);
    const signal = await this.deps.reader.read(md, pods);
    let status: AutoscalingStatus;
    let history = previous?.history ?? [];
    const a = md.spec.autoscaling;
    const current = md.spec.replicas;
    if (signal.total === undefined) {
      // Without a metric the bounds still hold, as an HPA keeps them.
      const bounded = clamp(current, a.minReplicas, a.maxReplicas ?? a.minReplicas);
      status = {
        ...previous?.status,
        engine: 'builtin',
        lastDecision:
          `no signal: ${signal.error ?? 'unknown'}` +
          (bounded === current ? '' : `; ${current} replicas is outside its bounds: ${bounded}`),
      };
      if (bounded !== current)
        status.lastScaleTime = await this.scale(
          md,
          current,
          bounded,
          'outside minReplicas..maxReplicas',
          now,
        );
    } else {
      const out = recommend({
        total: signal.total,
        target: a.metric.target,
        current,
        minReplicas: a.minReplicas,
        maxReplicas: a.maxReplicas ?? a.minReplicas,
        scaleUpWindowMs: a.behavior.scaleUp.stabilizationWindowSeconds * 1000,
        scaleDownWindowMs: a.behavior.scaleDown.stabilizationWindowSeconds * 1000,
        history,
        now: now.getTime(),
      });
      history = out.history;
      status = {
        engine: 'builtin',
        currentValue: Math.round((signal.total / Math.max(current, 1)) * 1000) / 1000,
        desiredReplicas: out.replicas,
        lastDecision: out.reason,
        ...(previous?.status.lastScaleTime ? { lastScaleTime: previous.status.lastScaleTime } : {}),
      };
      if (out.replicas !== current)
        status.lastScaleTime = await this.scale(md, current, out.replicas, out.reason, now);
    }
    this.state.set(key, { history, status });
    if (stableStringify(status) !== stableStringify(previous?.status)) this.deps.enqueue(key);
  }

  /**
   * Writes replicas through the scale subresource, the one field the
   * autoscaler owns; returns the time to record as lastScaleTime.
   */
  private async scale(
    md: ModelDeploymentObject,
    from: number,
    to: number,
    reason: string,
    now: Date,
  ): Promise<string> {
    await this.deps.client.mergePatch(
      RESOURCES.modelDeployment,
      md.metadata.namespace,
      md.metadata.name,
      { spec: { replicas: to } },
      'scale',
    );
    this.deps.logger.info('scaled', { key: objectKey(md), from, to, reason });
    return rfc3339(now);
  }
}
