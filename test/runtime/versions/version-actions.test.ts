// The next step for a model's versions, given their phases and the desired
// set: TF Serving's availability-preserving order, one step per call.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { VersionPhase } from '../../../src/runtime/versions/version-actions.js';
import { nextVersionActions } from '../../../src/runtime/versions/version-actions.js';

const phases = (entries: Record<number, VersionPhase>): Map<number, VersionPhase> =>
  new Map(Object.entries(entries).map(([v, p]) => [Number(v), p]));

describe('nextVersionActions', () => {
  it('loads every desired version from nothing, newest first', () => {
    expect(nextVersionActions(phases({}), [1, 2, 3])).toEqual({ load: [3, 2, 1], unload: [] });
  });

  it('keeps the old version serving while the new one loads, then unloads it', () => {
    // 2 serving, 3 wanted: load 3, keep 2.
    expect(nextVersionActions(phases({ 2: 'available' }), [3])).toEqual({ load: [3], unload: [] });
    expect(nextVersionActions(phases({ 2: 'available', 3: 'loading' }), [3])).toEqual({
      load: [],
      unload: [],
    });
    // 3 warm: 2 goes.
    expect(nextVersionActions(phases({ 2: 'available', 3: 'available' }), [3])).toEqual({
      load: [],
      unload: [2],
    });
  });

  it('keeps the old version when the new one failed to load, and does not retry it', () => {
    expect(nextVersionActions(phases({ 2: 'available', 3: 'failed' }), [3])).toEqual({
      load: [],
      unload: [],
    });
  });

  it('unloads a leaving version at once while another version stays', () => {
    expect(nextVersionActions(phases({ 1: 'available', 2: 'available' }), [2, 3])).toEqual({
      load: [3],
      unload: [1],
    });
  });

  it('drops loading or failed versions that are no longer wanted', () => {
    expect(nextVersionActions(phases({ 2: 'available', 3: 'loading', 4: 'failed' }), [2])).toEqual({
      load: [],
      unload: [3, 4],
    });
  });

  it('loads an ended version again when it is wanted again; leaves unloading ones alone', () => {
    expect(
      nextVersionActions(phases({ 1: 'ended', 2: 'unloading', 3: 'available' }), [1, 3]),
    ).toEqual({ load: [1], unload: [] });
  });

  it('never leaves a model that had an available version without one (property)', () => {
    const phase = fc.constantFrom<VersionPhase>(
      'loading',
      'available',
      'failed',
      'unloading',
      'ended',
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.integer({ min: 1, max: 8 }).map(String), phase),
        fc.uniqueArray(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 4 }),
        (dict, desired) => {
          const current = phases(dict);
          const { load, unload } = nextVersionActions(current, desired);
          const availableBefore = [...current].filter(([, p]) => p === 'available').map(([v]) => v);
          const availableAfter = availableBefore.filter((v) => !unload.includes(v));
          if (availableBefore.length > 0) expect(availableAfter.length).toBeGreaterThan(0);
          // Only wanted versions load; only unwanted ones unload.
          expect(load.every((v) => desired.includes(v))).toBe(true);
          expect(unload.every((v) => !desired.includes(v))).toBe(true);
        },
      ),
    );
  });
});
