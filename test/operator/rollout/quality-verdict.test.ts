import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { QualityThresholds } from '../../../src/operator/rollout/quality-verdict.js';
import { gatesOnQuality, judgeQuality } from '../../../src/operator/rollout/quality-verdict.js';

const base: QualityThresholds = { maxErrorRate: 0.01, minRequests: 20, minLabelled: 100 };
const accuracyGate = (maxAccuracyDrop: number, minLabelled = 100): QualityThresholds => ({
  ...base,
  maxAccuracyDrop,
  minLabelled,
});

/** A version's feedback counters with `labelled` predictions, a share `accuracy` of them right. */
const classified = (labelled: number, accuracy: number) => ({
  labelled,
  correct: labelled * accuracy,
});

describe('judgeQuality: accuracy', () => {
  it('is off without a quality threshold', () => {
    expect(gatesOnQuality(base)).toBe(false);
    expect(judgeQuality(base, {}, undefined)).toEqual({ outcome: 'off', message: '', result: {} });
  });

  it('fails a drop beyond the threshold, naming both accuracies', () => {
    const v = judgeQuality(accuracyGate(0.02), classified(500, 0.85), classified(1500, 0.9));
    expect(v.outcome).toBe('fail');
    expect(v.message).toBe(
      'accuracy 0.85 against stable 0.9 over 500 and 1500 labelled predictions: a drop of 0.05 > 0.02',
    );
    expect(v.result).toEqual({
      canaryLabelled: 500,
      stableLabelled: 1500,
      canaryAccuracy: 0.85,
      stableAccuracy: 0.9,
    });
  });

  it('passes a drop at the threshold exactly (0.9 - 0.88 is not above 0.02)', () => {
    const v = judgeQuality(accuracyGate(0.02), classified(100, 0.88), classified(100, 0.9));
    expect(v.outcome).toBe('pass');
  });

  it('never fails when the canary is at least as accurate as stable', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (maxDrop, canaryLabelled, stableLabelled, stableAccuracy, gain) => {
          const canaryAccuracy = stableAccuracy + (1 - stableAccuracy) * gain;
          const v = judgeQuality(
            accuracyGate(maxDrop, 1),
            classified(canaryLabelled, canaryAccuracy),
            classified(stableLabelled, stableAccuracy),
          );
          expect(v.outcome).toBe('pass');
        },
      ),
    );
  });

  it('never decides with fewer than minLabelled labelled predictions on either version', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.boolean(),
        (minLabelled, a, b, maxDrop, short, canaryShort) => {
          const few = Math.floor(short * minLabelled);
          const enough = minLabelled + 1000;
          const canary = classified(canaryShort ? few : enough, a);
          const stable = classified(canaryShort ? enough : few, b);
          const v = judgeQuality(accuracyGate(maxDrop, minLabelled), canary, stable);
          expect(v.outcome).toBe('wait');
          expect(v.message).toContain(`of the ${minLabelled} each version needs`);
        },
      ),
    );
  });

  it('fails exactly when stable is more accurate by more than the threshold', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100 }),
        (labelled, canaryCorrect, stableCorrect, maxDropPercent) => {
          const c = Math.min(canaryCorrect, labelled);
          const s = Math.min(stableCorrect, labelled);
          const v = judgeQuality(
            accuracyGate(maxDropPercent / 100),
            { labelled, correct: c },
            { labelled, correct: s },
          );
          // Integers: (s - c) / labelled > maxDrop without rounding.
          expect(v.outcome).toBe((s - c) * 100 > maxDropPercent * labelled ? 'fail' : 'pass');
        },
      ),
    );
  });

  it('waits, saying why, when the runtime counts no correct predictions (a regression model)', () => {
    const v = judgeQuality(accuracyGate(0.02), { labelled: 500 }, { labelled: 500 });
    expect(v.outcome).toBe('wait');
    expect(v.message).toContain('is the model a classifier?');
  });

  it('reads an accuracy as at most 1 when extrapolated counters put correct above labelled', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 100_000 }),
        fc.double({ min: 1, max: 1.01, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (labelled, over, canary) => {
          const v = judgeQuality(
            accuracyGate(0.1),
            classified(labelled, canary),
            classified(labelled, over),
          );
          expect(v.result.stableAccuracy).toBe(1);
          expect(v.message).toMatch(/against stable 1 over/);
          expect(v.outcome).toBe(1 - canary > 0.1 + 1e-9 ? 'fail' : 'pass');
        },
      ),
    );
  });

  it('waits when no stable figures could be read', () => {
    expect(judgeQuality(accuracyGate(0.02), classified(500, 0.9), undefined).outcome).toBe('wait');
  });
});

describe('judgeQuality: mean absolute error', () => {
  const maeGate: QualityThresholds = { ...base, maxMeanAbsoluteErrorIncrease: 0.5 };
  const regressed = (labelled: number, mae: number) => ({
    labelled,
    absoluteErrorSum: labelled * mae,
    absoluteErrorCount: labelled,
  });

  it('fails a rise beyond the threshold, naming both errors', () => {
    const v = judgeQuality(maeGate, regressed(200, 2), regressed(400, 1));
    expect(v.outcome).toBe('fail');
    expect(v.message).toBe(
      'mean absolute error 2 against stable 1 over 200 and 400 labelled predictions: a rise of 1 > 0.5',
    );
    expect(v.result).toMatchObject({ canaryMeanAbsoluteError: 2, stableMeanAbsoluteError: 1 });
  });

  it('never fails when the canary errs no more than stable', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 100, max: 100_000 }),
        (stableMae, share, labelled) => {
          const v = judgeQuality(
            maeGate,
            regressed(labelled, stableMae * share),
            regressed(labelled, stableMae),
          );
          expect(v.outcome).toBe('pass');
        },
      ),
    );
  });

  it('waits when the runtime observes no absolute errors (a classifier)', () => {
    const v = judgeQuality(maeGate, { labelled: 500, correct: 400 }, { labelled: 500 });
    expect(v.outcome).toBe('wait');
    expect(v.message).toContain('is the model a regression?');
  });
});
