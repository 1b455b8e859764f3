// The version policy and the availability-preserving transition plan: examples
// as TF Serving documents them, and properties over random version sets.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VersionPolicy } from '../../../src/runtime/versions/version-policy.js';
import {
  checkVersionPolicy,
  describeVersionPolicy,
  missingVersions,
  parseVersionPolicy,
  planTransition,
  selectVersions,
} from '../../../src/runtime/versions/version-policy.js';

const versionArb = fc.integer({ min: 1, max: 40 });
const versionsArb = fc.array(versionArb, { maxLength: 15 });
const versionSetArb = fc.uniqueArray(versionArb, { maxLength: 10 }).map((a) => new Set(a));
const policyArb: fc.Arbitrary<VersionPolicy> = fc.oneof(
  fc.integer({ min: 1, max: 6 }).map((count) => ({ kind: 'latest', count }) as const),
  fc.constant({ kind: 'all' } as const),
  fc
    .array(versionArb, { minLength: 1, maxLength: 6 })
    .map((versions) => ({ kind: 'specific', versions }) as const),
);

const sorted = (values: Iterable<number>): number[] => [...values].sort((a, b) => a - b);

describe('selectVersions', () => {
  it('serves the latest, all, or the listed versions that are present', () => {
    const available = [3, 1, 7, 2];
    expect(selectVersions({ kind: 'latest', count: 1 }, available)).toEqual([7]);
    expect(selectVersions({ kind: 'latest', count: 2 }, available)).toEqual([3, 7]);
    expect(selectVersions({ kind: 'latest', count: 9 }, available)).toEqual([1, 2, 3, 7]);
    expect(selectVersions({ kind: 'all' }, available)).toEqual([1, 2, 3, 7]);
    expect(selectVersions({ kind: 'specific', versions: [2, 5, 7] }, available)).toEqual([2, 7]);
    expect(selectVersions({ kind: 'latest', count: 1 }, [])).toEqual([]);
  });

  it('latest N is always the N largest distinct versions, ascending', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), versionsArb, (count, available) => {
        const distinct = sorted(new Set(available));
        const chosen = selectVersions({ kind: 'latest', count }, available);
        expect(chosen).toEqual(distinct.slice(-count));
        expect(chosen.length).toBe(Math.min(count, distinct.length));
      }),
    );
  });

  it('every policy selects a sorted, repeat-free subset of what is available', () => {
    fc.assert(
      fc.property(policyArb, versionsArb, (policy, available) => {
        const chosen = selectVersions(policy, available);
        expect(chosen).toEqual(sorted(new Set(chosen)));
        for (const v of chosen) expect(available).toContain(v);
      }),
    );
  });

  it('specific: selected and missing split the listed versions exactly', () => {
    fc.assert(
      fc.property(
        fc.array(versionArb, { minLength: 1, maxLength: 6 }),
        versionsArb,
        (versions, available) => {
          const policy: VersionPolicy = { kind: 'specific', versions };
          const chosen = selectVersions(policy, available);
          const missing = missingVersions(policy, available);
          expect(sorted([...chosen, ...missing])).toEqual(sorted(new Set(versions)));
          for (const v of missing) expect(available).not.toContain(v);
        },
      ),
    );
  });

  it('only specific policies can miss versions', () => {
    expect(missingVersions({ kind: 'specific', versions: [4, 2, 4] }, [1, 2])).toEqual([4]);
    expect(missingVersions({ kind: 'latest', count: 3 }, [])).toEqual([]);
    expect(missingVersions({ kind: 'all' }, [])).toEqual([]);
  });
});

describe('checkVersionPolicy and describeVersionPolicy', () => {
  it('refuses policies that cannot select anything, with the reason', () => {
    expect(() => checkVersionPolicy({ kind: 'latest', count: 0 })).toThrow(
      'version policy latest needs a count of at least 1, not 0',
    );
    expect(() => checkVersionPolicy({ kind: 'specific', versions: [] })).toThrow(
      'version policy specific lists no versions',
    );
    expect(() => checkVersionPolicy({ kind: 'specific', versions: [1, 0, 2.5] })).toThrow(
      'version policy specific lists 0, 2.5: versions are positive integers',
    );
    expect(checkVersionPolicy({ kind: 'all' })).toEqual({ kind: 'all' });
  });

  it('names policies in TF Serving config words', () => {
    expect(describeVersionPolicy({ kind: 'latest', count: 2 })).toBe('latest 2');
    expect(describeVersionPolicy({ kind: 'specific', versions: [3, 1, 3] })).toBe(
      'specific [1, 3]',
    );
  });
});

/** Applies a plan in its order; checks no step leaves nothing serving when something was. */
function applyPlan(
  current: ReadonlySet<number>,
  desired: ReadonlySet<number>,
): { final: Set<number>; servingThroughout: boolean } {
  const plan = planTransition(current, desired);
  const serving = new Set(current);
  let servingThroughout = true;
  const check = (): void => {
    if (current.size > 0 && desired.size > 0 && serving.size === 0) servingThroughout = false;
  };
  for (const v of plan.unloadNow) serving.delete(v);
  check();
  // Loads are ready one at a time; the deferred unloads happen after the first.
  plan.load.forEach((v, i) => {
    serving.add(v);
    if (i === 0) for (const u of plan.unloadAfterReady) serving.delete(u);
    check();
  });
  if (plan.load.length === 0) for (const u of plan.unloadAfterReady) serving.delete(u);
  return { final: serving, servingThroughout };
}

describe('planTransition', () => {
  it('latest 1 moving from 1 to 2: load 2, unload 1 once 2 is ready', () => {
    expect(planTransition(new Set([1]), new Set([2]))).toEqual({
      load: [2],
      unloadNow: [],
      unloadAfterReady: [1],
    });
  });

  it('a version that stays serves meanwhile, so leaving versions go at once', () => {
    expect(planTransition(new Set([1, 2]), new Set([2, 3]))).toEqual({
      load: [3],
      unloadNow: [1],
      unloadAfterReady: [],
    });
  });

  it('with nothing staying, only the newest leaving version waits; loads go newest first', () => {
    expect(planTransition(new Set([1, 2, 3]), new Set([5, 4]))).toEqual({
      load: [5, 4],
      unloadNow: [1, 2],
      unloadAfterReady: [3],
    });
  });

  it('from nothing, or to nothing, there is nothing to wait for', () => {
    expect(planTransition(new Set(), new Set([1]))).toEqual({
      load: [1],
      unloadNow: [],
      unloadAfterReady: [],
    });
    expect(planTransition(new Set([1, 2]), new Set())).toEqual({
      load: [],
      unloadNow: [1, 2],
      unloadAfterReady: [],
    });
  });

  it('applying the plan reaches the desired set', () => {
    fc.assert(
      fc.property(versionSetArb, versionSetArb, (current, desired) => {
        expect(sorted(applyPlan(current, desired).final)).toEqual(sorted(desired));
      }),
    );
  });

  it('never leaves a serving model without a serving version before a replacement is ready', () => {
    fc.assert(
      fc.property(versionSetArb, versionSetArb, (current, desired) => {
        expect(applyPlan(current, desired).servingThroughout).toBe(true);
      }),
    );
  });

  it('loads exactly the new versions, newest first, and unloads each leaving one once', () => {
    fc.assert(
      fc.property(versionSetArb, versionSetArb, (current, desired) => {
        const plan = planTransition(current, desired);
        expect(sorted(plan.load)).toEqual(sorted([...desired].filter((v) => !current.has(v))));
        expect([...plan.load]).toEqual(sorted(plan.load).reverse());
        expect(sorted([...plan.unloadNow, ...plan.unloadAfterReady])).toEqual(
          sorted([...current].filter((v) => !desired.has(v))),
        );
        // At most one version waits, and only when no version stays and something loads.
        expect(plan.unloadAfterReady.length).toBeLessThanOrEqual(1);
        if (plan.unloadAfterReady.length === 1) {
          expect([...current].some((v) => desired.has(v))).toBe(false);
          expect(plan.load.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  it('when every load fails, the deferred version is still serving', () => {
    fc.assert(
      fc.property(versionSetArb, versionSetArb, (current, desired) => {
        const plan = planTransition(current, desired);
        const serving = [...current].filter((v) => !plan.unloadNow.includes(v));
        if (current.size > 0 && desired.size > 0) expect(serving.length).toBeGreaterThan(0);
      }),
    );
  });
});

describe('parseVersionPolicy (serve --model-version-policy)', () => {
  it('reads latest:N, latest, all and specific:V1,V2', () => {
    expect(parseVersionPolicy('latest:2')).toEqual({ kind: 'latest', count: 2 });
    expect(parseVersionPolicy('latest')).toEqual({ kind: 'latest', count: 1 });
    expect(parseVersionPolicy('all')).toEqual({ kind: 'all' });
    expect(parseVersionPolicy('specific:3,4')).toEqual({ kind: 'specific', versions: [3, 4] });
  });

  it.each([
    '',
    'newest',
    'latest:0',
    'latest:x',
    'all:1',
    'specific:',
    'specific:1,a',
    'latest:1:2',
  ])('refuses %j with CONFIG_INVALID', (text) => {
    expect(() => parseVersionPolicy(text)).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });
});
