// status.autoscaling for the engines the operator does not run itself: what
// the HPA controller (engine hpa) or KEDA (engine keda) last saw and decided,
// read from the status of the object we own. Pure.
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { AutoscalingStatus } from './builtin.js';
import { quantityValue } from '../kube/quantity.js';
import { rfc3339 } from '../kube/time.js';

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

const said = (c: Condition) => `${c.reason ?? c.type}: ${c.message ?? ''}`.slice(0, 1024);

/** The current value of the HPA's first metric, per pod (or utilization percent). */
function currentValue(hpa: V2HorizontalPodAutoscaler): number | undefined {
  const m = hpa.status?.currentMetrics?.[0];
  const current = m?.resource?.current ?? m?.pods?.current ?? m?.external?.current;
  const raw = current?.averageUtilization ?? current?.averageValue ?? current?.value;
  if (raw === undefined) return undefined;
  const n = typeof raw === 'number' ? raw : (quantityValue(raw) ?? NaN);
  return Number.isFinite(n) ? Math.round(n * 1000) / 1000 : undefined;
}

/**
 * The decision in the HPA controller's words: why it cannot scale if it
 * cannot, else why it is limited, else what it can do.
 */
export function hpaStatus(hpa: V2HorizontalPodAutoscaler | undefined): AutoscalingStatus {
  const out: AutoscalingStatus = { engine: 'hpa' };
  const s = hpa?.status;
  if (!s) return { ...out, lastDecision: 'waiting for the HorizontalPodAutoscaler controller' };
  const conditions: Condition[] = s.conditions ?? [];
  const find = (type: string, status: string) =>
    conditions.find((c) => c.type === type && c.status === status);
  const decision =
    find('ScalingActive', 'False') ??
    find('AbleToScale', 'False') ??
    find('ScalingLimited', 'True') ??
    find('AbleToScale', 'True');
  const value = hpa ? currentValue(hpa) : undefined;
  if (value !== undefined) out.currentValue = value;
  if (s.desiredReplicas !== undefined) out.desiredReplicas = s.desiredReplicas;
  if (s.lastScaleTime) out.lastScaleTime = rfc3339(new Date(s.lastScaleTime));
  if (decision) out.lastDecision = said(decision);
  return out;
}

/** KEDA reports through the ScaledObject's conditions (Ready, Active, Fallback). */
export interface ScaledObjectState {
  status?: { conditions?: Condition[] };
}

export function scaledObjectStatus(so: ScaledObjectState | undefined): AutoscalingStatus {
  const out: AutoscalingStatus = { engine: 'keda' };
  const conditions = so?.status?.conditions ?? [];
  const notReady = conditions.find((c) => c.type === 'Ready' && c.status === 'False');
  const active = conditions.find((c) => c.type === 'Active');
  const decision = notReady ?? active;
  if (decision?.message) out.lastDecision = said(decision);
  else if (!so?.status) out.lastDecision = 'waiting for KEDA to read the ScaledObject';
  return out;
}
