import { createHash } from 'node:crypto';
import { quantityValue } from './quantity.js';

// Decides whether a server-side apply would change anything, so that an idle
// cluster sees no writes from us. The API server adds defaults and
// canonicalises quantities, so "desired is contained in observed" is the test,
// with quantities compared by value.

function sameScalar(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'string' && typeof b === 'string') {
    const qa = quantityValue(a);
    const qb = quantityValue(b);
    return qa !== undefined && qa === qb;
  }
  return false;
}

/**
 * Lists the API server merges item by item (listType=map in the pod and
 * Service schemas), with each item's key. Items others added to them are
 * theirs: server-side apply leaves them, so they are no difference of ours.
 * Every other list is atomic: it must equal ours.
 */
export const MAP_LISTS: Readonly<Record<string, (item: Record<string, unknown>) => unknown>> = {
  containers: (i) => i['name'],
  initContainers: (i) => i['name'],
  env: (i) => i['name'],
  volumes: (i) => i['name'],
  volumeMounts: (i) => i['mountPath'],
  ports: (i) => JSON.stringify([i['containerPort'] ?? i['port'], i['protocol'] ?? 'TCP']),
};

function containedMapList(
  key: (item: Record<string, unknown>) => unknown,
  desired: unknown[],
  observed: unknown,
): boolean {
  if (!Array.isArray(observed)) return false;
  const byKey = new Map<unknown, unknown>();
  for (const item of observed)
    if (item !== null && typeof item === 'object')
      byKey.set(key(item as Record<string, unknown>), item);
  return desired.every(
    (d) =>
      d !== null &&
      typeof d === 'object' &&
      isContained(d, byKey.get(key(d as Record<string, unknown>))),
  );
}

/** True when every field of `desired` is present in `observed` with an equal value. */
export function isContained(desired: unknown, observed: unknown, field?: string): boolean {
  if (Array.isArray(desired)) {
    const key = field === undefined ? undefined : MAP_LISTS[field];
    if (key !== undefined) return containedMapList(key, desired, observed);
    return (
      Array.isArray(observed) &&
      desired.length === observed.length &&
      desired.every((d, i) => isContained(d, observed[i]))
    );
  }
  if (desired !== null && typeof desired === 'object') {
    if (observed === null || typeof observed !== 'object' || Array.isArray(observed)) return false;
    const o = observed as Record<string, unknown>;
    return Object.entries(desired as Record<string, unknown>).every(
      ([k, v]) => v === undefined || isContained(v, o[k], k),
    );
  }
  return sameScalar(desired, observed);
}

/** Annotation holding the hash of what we last applied: catches fields we stopped setting. */
export const APPLIED_HASH = 'tensorfleet.dev/applied-hash';

export function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** Stamps the desired object with the hash of its own content. */
export function withAppliedHash<T extends { metadata: { annotations?: Record<string, string> } }>(
  desired: T,
): T {
  const hash = hashOf(desired);
  return {
    ...desired,
    metadata: {
      ...desired.metadata,
      annotations: { ...desired.metadata.annotations, [APPLIED_HASH]: hash },
    },
  };
}

/** True when applying `desired` (already stamped) would change `observed`. */
export function needsApply(
  desired: { metadata: { annotations?: Record<string, string> } },
  observed: unknown,
): boolean {
  if (observed === undefined) return true;
  const annotations = (observed as { metadata?: { annotations?: Record<string, string> } }).metadata
    ?.annotations;
  if (annotations?.[APPLIED_HASH] !== desired.metadata.annotations?.[APPLIED_HASH]) return true;
  return !isContained(desired, observed);
}
