// What model quality is measured on: one output of the signature, judged as
// a classifier (the argmax of each row is the predicted class) or as a
// regression (the row's values are the prediction). Resolved from the flags
// and the loaded model's signature; a flag the model cannot satisfy is a
// configuration error when the model loads, not a 500 on every request.

import type { QualityKind, ServeConfig } from '../../contract/runtime.js';
import { RuntimeError } from '../errors.js';
import type { ModelSignature, TensorSpec } from '../models/signature.js';

export type QualitySettings = Pick<
  ServeConfig,
  'qualityTracking' | 'qualityOutput' | 'qualityKind'
>;

export interface QualityTarget {
  output: string;
  kind: Exclude<QualityKind, 'auto'>;
  /** Classification: the number of classes (the output's last dimension). */
  classes: number;
  /** Numbers in one row of the output (-1 when the signature does not say). */
  rowWidth: number;
}

/** Tracking is on when asked for, or implied by naming the output or the kind. */
export function qualityOn(settings: QualitySettings): boolean {
  return (
    settings.qualityTracking ||
    settings.qualityOutput !== undefined ||
    settings.qualityKind !== 'auto'
  );
}

function invalid(message: string): RuntimeError {
  return new RuntimeError('CONFIG_INVALID', message);
}

function rowWidth(spec: TensorSpec): number {
  const inner = spec.shape.slice(1);
  if (inner.some((d) => d < 0)) return -1;
  return inner.reduce((a, d) => a * d, 1);
}

export function qualityTarget(settings: QualitySettings, sig: ModelSignature): QualityTarget {
  const names = sig.outputs.map((o) => `"${o.name}"`).join(', ');
  const spec =
    settings.qualityOutput === undefined
      ? sig.outputs[0]
      : sig.outputs.find((o) => o.name === settings.qualityOutput);
  if (spec === undefined) {
    throw invalid(
      settings.qualityOutput === undefined
        ? 'the model has no outputs to measure quality on'
        : `--quality-output "${settings.qualityOutput}" is not an output of the model; its outputs are ${names}`,
    );
  }
  if (spec.dtype === 'string') {
    throw invalid(
      `output "${spec.name}" holds strings; quality is measured on numbers (choose another with --quality-output)`,
    );
  }
  const last = spec.shape.length >= 2 ? (spec.shape[spec.shape.length - 1] as number) : 1;
  let kind = settings.qualityKind;
  if (kind === 'auto') {
    if (last < 0) {
      throw invalid(
        `output "${spec.name}" has shape [${spec.shape.join(', ')}], whose last dimension is unknown: say whether it is --quality-kind classification or regression`,
      );
    }
    kind = spec.shape.length === 2 && last > 1 ? 'classification' : 'regression';
  }
  if (kind === 'classification' && (spec.shape.length !== 2 || last === 1)) {
    throw invalid(
      `--quality-kind classification needs an output of shape [rows, classes] with 2 or more classes; output "${spec.name}" has shape [${spec.shape.join(', ')}]`,
    );
  }
  return {
    output: spec.name,
    kind,
    classes: kind === 'classification' ? last : 0,
    rowWidth: rowWidth(spec),
  };
}
