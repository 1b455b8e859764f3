// What to do next for a model's versions, given where each one is and what the
// version watcher wants served: which versions to start loading and which to
// unload. Called again whenever either changes (a new desired set, a load that
// finished or failed), so the availability-preserving order of
// planTransition (version-policy.ts) unfolds one step at a time: an old
// version is unloaded only once a desired version is available beside it.
// Pure: no I/O, no clock.

import { planTransition } from './version-policy.js';

/** Where one version of a model is. */
export type VersionPhase =
  /** Its service is loading and warming up. */
  | 'loading'
  /** Warm, serving requests. */
  | 'available'
  /** Its load failed; not retried while it stays desired. */
  | 'failed'
  /** No longer desired: out of routing, waiting for its requests, then closed. */
  | 'unloading'
  /** Unloaded (kept for status only). */
  | 'ended';

export interface VersionActions {
  /** Versions to load, newest first (unversioned requests go to the newest). */
  readonly load: readonly number[];
  /** Versions to take out of routing and unload once their requests finished. */
  readonly unload: readonly number[];
}

export function nextVersionActions(
  phases: ReadonlyMap<number, VersionPhase>,
  desired: readonly number[],
): VersionActions {
  const wanted = new Set(desired);
  const load = [...wanted]
    .filter((v) => {
      const phase = phases.get(v);
      return phase === undefined || phase === 'ended';
    })
    .sort((a, b) => b - a);
  const available = new Set([...phases].filter(([, p]) => p === 'available').map(([v]) => v));
  // unloadAfterReady is left alone: once a desired version is available it is
  // "staying", and the next call's plan unloads the old one at once.
  const { unloadNow } = planTransition(available, wanted);
  // Versions that were never serving and are no longer wanted go at once.
  const notServing = [...phases]
    .filter(([v, p]) => !wanted.has(v) && (p === 'loading' || p === 'failed'))
    .map(([v]) => v);
  const unload = [...new Set([...unloadNow, ...notServing])].sort((a, b) => a - b);
  return { load, unload };
}
