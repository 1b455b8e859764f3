// Which versions of a model to serve, as TF Serving's model_version_policy
// says it (latest N, all, specific), and the order in which to move from the
// versions served now to the ones wanted: TF Serving's availability-preserving
// policy. Pure: no I/O, no clock.

import { RuntimeError } from '../errors.js';

export type VersionPolicy =
  | { readonly kind: 'latest'; readonly count: number }
  | { readonly kind: 'all' }
  | { readonly kind: 'specific'; readonly versions: readonly number[] };

/** TF Serving's default: `latest { num_versions: 1 }`. */
export const DEFAULT_VERSION_POLICY: VersionPolicy = { kind: 'latest', count: 1 };

/** A version number as TF Serving accepts one: a positive integer (kept exact in a double). */
export function isVersionNumber(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

/** Throws CONFIG_INVALID when the policy cannot select anything sensible. */
export function checkVersionPolicy(policy: VersionPolicy): VersionPolicy {
  if (policy.kind === 'latest' && !(Number.isSafeInteger(policy.count) && policy.count >= 1)) {
    throw new RuntimeError(
      'CONFIG_INVALID',
      `version policy latest needs a count of at least 1, not ${policy.count}`,
    );
  }
  if (policy.kind === 'specific') {
    if (policy.versions.length === 0) {
      throw new RuntimeError('CONFIG_INVALID', 'version policy specific lists no versions');
    }
    const bad = policy.versions.filter((v) => !isVersionNumber(v));
    if (bad.length > 0) {
      throw new RuntimeError(
        'CONFIG_INVALID',
        `version policy specific lists ${bad.join(', ')}: versions are positive integers`,
      );
    }
  }
  return policy;
}

/** `serve --model-version-policy`: latest:N, all, or specific:V1,V2 (checked). */
export function parseVersionPolicy(text: string): VersionPolicy {
  const [kind, arg, ...rest] = text.trim().split(':');
  const bad = (): RuntimeError =>
    new RuntimeError(
      'CONFIG_INVALID',
      `--model-version-policy "${text}": expected latest:N, all or specific:V1,V2 (e.g. latest:2, specific:3,4)`,
    );
  if (rest.length > 0) throw bad();
  if (kind === 'all' && arg === undefined) return { kind: 'all' };
  if (kind === 'latest') {
    if (arg !== undefined && !/^\d+$/.test(arg)) throw bad();
    return checkVersionPolicy({ kind: 'latest', count: arg === undefined ? 1 : Number(arg) });
  }
  if (kind === 'specific' && arg !== undefined) {
    const parts = arg.split(',');
    if (parts.some((p) => !/^\d+$/.test(p.trim()))) throw bad();
    return checkVersionPolicy({ kind: 'specific', versions: parts.map((p) => Number(p)) });
  }
  throw bad();
}

const ascending = (a: number, b: number): number => a - b;

/** Distinct values, ascending. */
function sortedSet(values: Iterable<number>): number[] {
  return [...new Set(values)].sort(ascending);
}

/** The versions the policy serves out of `available`, ascending and without repeats. */
export function selectVersions(policy: VersionPolicy, available: readonly number[]): number[] {
  const present = sortedSet(available);
  switch (policy.kind) {
    case 'all':
      return present;
    case 'latest':
      return present.slice(Math.max(0, present.length - policy.count));
    case 'specific': {
      const wanted = new Set(policy.versions);
      return present.filter((v) => wanted.has(v));
    }
  }
}

/** For `specific`, the listed versions that `available` lacks (ascending); empty otherwise. */
export function missingVersions(policy: VersionPolicy, available: readonly number[]): number[] {
  if (policy.kind !== 'specific') return [];
  const present = new Set(available);
  return sortedSet(policy.versions).filter((v) => !present.has(v));
}

/** Human-readable form for logs and status messages, in TF Serving's config words. */
export function describeVersionPolicy(policy: VersionPolicy): string {
  switch (policy.kind) {
    case 'all':
      return 'all';
    case 'latest':
      return `latest ${policy.count}`;
    case 'specific':
      return `specific [${sortedSet(policy.versions).join(', ')}]`;
  }
}

/**
 * How to go from the versions serving now to the desired ones without a
 * moment where a model that had a serving version has none (TF Serving's
 * AvailabilityPreservingPolicy, applied to whole sets):
 *
 * 1. unload `unloadNow` at once: versions leaving while another version stays
 *    serving (a version kept from before, or an older leaving version that
 *    still holds the fort);
 * 2. load `load`, newest first (the version unversioned requests go to is
 *    ready soonest);
 * 3. unload `unloadAfterReady` once any version of `load` is ready. If every
 *    load fails it stays: an old version serving beats none.
 *
 * Every list is ascending except `load`. Applying all three gives `desired`.
 */
export interface TransitionPlan {
  readonly load: readonly number[];
  readonly unloadNow: readonly number[];
  readonly unloadAfterReady: readonly number[];
}

/**
 * `current`: versions loaded and serving. `desired`: what the policy selects.
 * An empty `desired` (the model is being removed) unloads everything at once:
 * there is nothing to wait for. The version watcher never asks for an empty set.
 */
export function planTransition(
  current: ReadonlySet<number>,
  desired: ReadonlySet<number>,
): TransitionPlan {
  const load = sortedSet([...desired].filter((v) => !current.has(v))).reverse();
  const leaving = sortedSet([...current].filter((v) => !desired.has(v)));
  const staying = [...current].some((v) => desired.has(v));
  if (desired.size === 0 || staying || leaving.length === 0) {
    return { load, unloadNow: leaving, unloadAfterReady: [] };
  }
  // Nothing serving stays: the newest leaving version serves until a new one is ready.
  return {
    load,
    unloadNow: leaving.slice(0, -1),
    unloadAfterReady: leaving.slice(-1),
  };
}
