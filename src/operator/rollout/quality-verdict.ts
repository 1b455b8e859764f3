// The model quality part of a canary verdict: the canary's accuracy (or mean
// absolute error) over a step against the stable version's over the same
// step, from the runtime's feedback counters. Pure: figures in, verdict out.
import type { Canary, CanaryAnalysisResult } from '../../api/v1alpha1/index.js';

/** Feedback counters of one version over the analysis window (increases). */
export interface QualityFigures {
  /** Predictions labelled by feedback; undefined when the runtime reports none (tracking off). */
  labelled?: number;
  /** Labelled classification predictions that were right; undefined for a regression model. */
  correct?: number;
  /** Sum and count of the absolute errors of labelled regression predictions. */
  absoluteErrorSum?: number;
  absoluteErrorCount?: number;
}

export type QualityThresholds = Canary['analysis'];

/** What the quality gate says: nothing to judge, wait, pass or fail, with the figures for status. */
export interface QualityVerdict {
  outcome: 'off' | 'wait' | 'pass' | 'fail';
  message: string;
  result: Partial<CanaryAnalysisResult>;
}

/** Whether the analysis gates on quality at all, so readers only ask for its series then. */
export const gatesOnQuality = (t: QualityThresholds): boolean =>
  t.maxAccuracyDrop !== undefined || t.maxMeanAbsoluteErrorIncrease !== undefined;

/**
 * Sums of shares carry rounding error (0.9 - 0.88 is 0.0200000000000000178):
 * a difference within this of the threshold is at the threshold, not over it.
 */
const EPSILON = 1e-9;

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

const ratio = (part: number | undefined, whole: number | undefined): number | undefined =>
  part !== undefined && whole !== undefined && whole > 0 ? part / whole : undefined;

export function judgeQuality(
  t: QualityThresholds,
  canary: QualityFigures,
  stable: QualityFigures | undefined,
): QualityVerdict {
  if (!gatesOnQuality(t)) return { outcome: 'off', message: '', result: {} };
  const canaryLabelled = canary.labelled ?? 0;
  const stableLabelled = stable?.labelled ?? 0;
  const result: Partial<CanaryAnalysisResult> = {
    canaryLabelled: round(canaryLabelled, 1),
    stableLabelled: round(stableLabelled, 1),
  };
  if (canaryLabelled < t.minLabelled || stableLabelled < t.minLabelled) {
    return {
      outcome: 'wait',
      message: `waiting for feedback: ${Math.floor(canaryLabelled)} canary and ${Math.floor(stableLabelled)} stable predictions labelled of the ${t.minLabelled} each version needs`,
      result,
    };
  }

  if (t.maxAccuracyDrop !== undefined) {
    // Accuracy is correct over labelled, both over the step. Through Prometheus
    // each counter's increase() is extrapolated on its own, so a version that
    // was always right can read a little over 1: a share is at most 1.
    const share = (part: number | undefined, whole: number | undefined) => {
      const r = ratio(part, whole);
      return r === undefined ? undefined : Math.min(1, r);
    };
    const canaryAccuracy = share(canary.correct, canary.labelled);
    const stableAccuracy = share(stable?.correct, stable?.labelled);
    if (canaryAccuracy === undefined || stableAccuracy === undefined) {
      return {
        outcome: 'wait',
        message:
          'no accuracy: the runtime counts no correct predictions (is the model a classifier? see monitoring.quality.kind)',
        result,
      };
    }
    result.canaryAccuracy = round(canaryAccuracy, 4);
    result.stableAccuracy = round(stableAccuracy, 4);
    const drop = stableAccuracy - canaryAccuracy;
    const figures = `accuracy ${round(canaryAccuracy, 4)} against stable ${round(stableAccuracy, 4)} over ${Math.round(canaryLabelled)} and ${Math.round(stableLabelled)} labelled predictions`;
    return drop > t.maxAccuracyDrop + EPSILON
      ? {
          outcome: 'fail',
          message: `${figures}: a drop of ${round(drop, 4)} > ${t.maxAccuracyDrop}`,
          result,
        }
      : { outcome: 'pass', message: `${figures} (drop <= ${t.maxAccuracyDrop})`, result };
  }

  const max = t.maxMeanAbsoluteErrorIncrease!;
  const canaryMae = ratio(canary.absoluteErrorSum, canary.absoluteErrorCount);
  const stableMae = ratio(stable?.absoluteErrorSum, stable?.absoluteErrorCount);
  if (canaryMae === undefined || stableMae === undefined) {
    return {
      outcome: 'wait',
      message:
        'no mean absolute error: the runtime observes no absolute errors (is the model a regression? see monitoring.quality.kind)',
      result,
    };
  }
  result.canaryMeanAbsoluteError = round(canaryMae, 6);
  result.stableMeanAbsoluteError = round(stableMae, 6);
  const rise = canaryMae - stableMae;
  const figures = `mean absolute error ${round(canaryMae, 6)} against stable ${round(stableMae, 6)} over ${Math.round(canaryLabelled)} and ${Math.round(stableLabelled)} labelled predictions`;
  return rise > max + EPSILON * Math.max(1, Math.abs(stableMae))
    ? { outcome: 'fail', message: `${figures}: a rise of ${round(rise, 6)} > ${max}`, result }
    : { outcome: 'pass', message: `${figures} (rise <= ${max})`, result };
}
