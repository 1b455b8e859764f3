// Feedback bodies and what they are judged against: the target output and
// kind from the flags and the signature, predictions (argmax per row, or the
// values), labels row by row, inline predictions, request ids; every refusal
// with the message a client reads.

import { describe, expect, it } from 'vitest';
import { spec } from '../../../src/runtime/models/signature.js';
import type { ModelSignature } from '../../../src/runtime/models/signature.js';
import {
  inlinePrediction,
  judge,
  readFeedbackBody,
} from '../../../src/runtime/quality/feedback.js';
import { argmax, predictionOf } from '../../../src/runtime/quality/prediction.js';
import type { Prediction } from '../../../src/runtime/quality/prediction.js';
import { requestId } from '../../../src/runtime/quality/request-id.js';
import type { QualitySettings, QualityTarget } from '../../../src/runtime/quality/target.js';
import { qualityOn, qualityTarget } from '../../../src/runtime/quality/target.js';

const sig = (...outputs: ReturnType<typeof spec>[]): ModelSignature => ({
  name: 'serving_default',
  methodName: 'tensorflow/serving/predict',
  inputs: [spec('x', 'float32', [-1, 4])],
  outputs,
});

const settings = (s: Partial<QualitySettings> = {}): QualitySettings => ({
  qualityTracking: true,
  qualityKind: 'auto',
  ...s,
});

describe('the quality target', () => {
  it('is the first output, a classifier when it is [rows, classes > 1], else a regression', () => {
    expect(qualityTarget(settings(), sig(spec('scores', 'float32', [-1, 10])))).toEqual({
      output: 'scores',
      kind: 'classification',
      classes: 10,
      rowWidth: 10,
    });
    expect(qualityTarget(settings(), sig(spec('y', 'float32', [-1, 1])))).toMatchObject({
      kind: 'regression',
      rowWidth: 1,
    });
    expect(qualityTarget(settings(), sig(spec('y', 'float32', [-1])))).toMatchObject({
      kind: 'regression',
      rowWidth: 1,
    });
    expect(
      qualityTarget(
        settings({ qualityOutput: 'b' }),
        sig(spec('a', 'float32', [-1, 3]), spec('b', 'int32', [-1, 2, 2])),
      ),
    ).toEqual({ output: 'b', kind: 'regression', classes: 0, rowWidth: 4 });
  });

  it('refuses flags the model cannot satisfy, naming the fix', () => {
    expect(() =>
      qualityTarget(settings({ qualityOutput: 'nope' }), sig(spec('a', 'float32', [-1, 3]))),
    ).toThrow('--quality-output "nope" is not an output of the model; its outputs are "a"');
    expect(() => qualityTarget(settings(), sig(spec('a', 'float32', [-1, -1])))).toThrow(
      'say whether it is --quality-kind classification or regression',
    );
    expect(() =>
      qualityTarget(
        settings({ qualityKind: 'classification' }),
        sig(spec('a', 'float32', [-1, 1])),
      ),
    ).toThrow('needs an output of shape [rows, classes] with 2 or more classes');
    expect(() => qualityTarget(settings(), sig(spec('s', 'string', [-1])))).toThrow(
      'holds strings',
    );
  });

  it('is on with --quality-tracking, or implied by --quality-output or --quality-kind', () => {
    expect(qualityOn({ qualityTracking: false, qualityKind: 'auto' })).toBe(false);
    expect(qualityOn({ qualityTracking: true, qualityKind: 'auto' })).toBe(true);
    expect(qualityOn({ qualityTracking: false, qualityKind: 'auto', qualityOutput: 'y' })).toBe(
      true,
    );
    expect(qualityOn({ qualityTracking: false, qualityKind: 'regression' })).toBe(true);
  });
});

describe('predictions', () => {
  const classifier: QualityTarget = {
    output: 's',
    kind: 'classification',
    classes: 3,
    rowWidth: 3,
  };

  it('are the argmax of each row (first of equals; NaN never the largest), copied', () => {
    const data = new Float32Array([
      0.1,
      0.7,
      0.2,
      5,
      5,
      1,
      Number.NaN,
      2,
      1,
      Number.NaN,
      Number.NaN,
      Number.NaN,
    ]);
    const p = predictionOf(classifier, '3', { dtype: 'float32', shape: [4, 3], data });
    expect(p).toMatchObject({ version: '3', kind: 'classification', rows: 4, width: 3 });
    expect(p.values).toEqual([1, 0, 1, -1]);
    expect(argmax([-Infinity, -Infinity], 0, 2)).toBe(0);
  });

  it('of a regression are the values, copied from the batch buffer', () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const target: QualityTarget = { output: 'y', kind: 'regression', classes: 0, rowWidth: 2 };
    const p = predictionOf(target, '1', { dtype: 'float32', shape: [2, 2], data });
    data[0] = 99;
    expect(p).toMatchObject({ rows: 2, width: 2 });
    expect(p.values).toEqual([1, 2, 3, 4]);
  });
});

describe('feedback bodies', () => {
  it('take an id or an inline prediction, and a label', () => {
    expect(readFeedbackBody({ id: 'r1', label: 3 })).toEqual({ id: 'r1', label: 3 });
    expect(readFeedbackBody({ prediction: [1], label: [1] })).toEqual({
      prediction: [1],
      label: [1],
    });
  });

  it.each([
    [[1], 'the feedback body must be a JSON object'],
    [{ id: 'r1' }, '"label" is missing'],
    [{ id: 'r1', labels: [1] }, 'unknown field "labels"'],
    [{ label: 1 }, 'the body has neither "id" nor "prediction"'],
    [{ id: 'r', prediction: 1, label: 1 }, 'the body has both "id" and "prediction"; send one'],
    [{ id: 7, label: 1 }, '"id" must be a non-empty string'],
    [{ id: '', label: 1 }, '"id" must be a non-empty string'],
  ])('refuses %j: %s', (body, message) => {
    expect(() => readFeedbackBody(body)).toThrow(message);
  });
});

describe('labels', () => {
  const classes = (values: number[], width = 10): Prediction => ({
    version: '1',
    kind: 'classification',
    rows: values.length,
    width,
    values,
  });
  const regression = (rows: number, width: number, values: number[]): Prediction => ({
    version: '1',
    kind: 'regression',
    rows,
    width,
    values,
  });

  it('of a classification are one class index per row, or the index alone for one row', () => {
    expect(judge(classes([3, 1, 4]), [3, 2, 4], 's')).toEqual({
      kind: 'classification',
      hits: [true, false, true],
    });
    expect(judge(classes([7]), 7, 's')).toEqual({ kind: 'classification', hits: [true] });
    expect(judge(classes([7]), [6], 's')).toEqual({ kind: 'classification', hits: [false] });
  });

  it.each([
    [[3, 1], [3], '"label" has 1 row but the prediction has 2'],
    [[3, 1], 3, '"label" must be a list with one entry per row (2 rows)'],
    [[3], 10, '"label" is 10, not a class index of output "s" (an integer from 0 to 9)'],
    [[3, 1], [3, 1.5], 'label[1] is 1.5, not a class index of output "s" (an integer from 0 to 9)'],
    [[3], 'cat', '"label" must be a list with one entry per row (1 row), or the one row\'s value'],
    [[3, 1], [3, -1], 'label[1] is -1, not a class index'],
  ])('of %j refuses %j: %s', (predicted, label, message) => {
    expect(() => judge(classes(predicted), label, 's')).toThrow(message);
  });

  it('of a regression are each row’s values, their absolute error averaged per row', () => {
    expect(judge(regression(1, 1, [2.5]), 3, 'y')).toEqual({ kind: 'regression', errors: [0.5] });
    expect(judge(regression(2, 1, [2.5, 1]), [3, 0], 'y')).toEqual({
      kind: 'regression',
      errors: [0.5, 1],
    });
    expect(judge(regression(2, 1, [2.5, 1]), [[3], [0]], 'y').kind).toBe('regression');
    // One row of two values: the flat list is that row.
    expect(judge(regression(1, 2, [1, 2]), [2, 4], 'y')).toEqual({
      kind: 'regression',
      errors: [1.5],
    });
    expect(
      judge(
        regression(2, 2, [1, 2, 3, 4]),
        [
          [1, 2],
          [3, 6],
        ],
        'y',
      ),
    ).toEqual({
      kind: 'regression',
      errors: [0, 1],
    });
  });

  it.each([
    [regression(2, 1, [1, 2]), [1, 2, 3], '"label" has 3 rows but the prediction has 2'],
    [
      regression(2, 2, [1, 2, 3, 4]),
      [[1, 2], [3]],
      'label[1] has 1 values but each row of the prediction has 2',
    ],
    [regression(1, 1, [1]), [null], 'label[0] must hold finite numbers only'],
    [
      regression(1, 2, [1, 2]),
      [1, 2, 3],
      '"label" has 3 values but each row of the prediction has 2',
    ],
    [
      regression(1, 2, [1, 2]),
      [
        [1, 2],
        [3, 4],
      ],
      '"label" has 2 rows but the prediction has 1',
    ],
  ])('of a regression refuse shape mismatches: %s', (p, label, message) => {
    expect(() => judge(p, label, 'y')).toThrow(message);
  });
});

describe('inline predictions', () => {
  const classifier: QualityTarget = {
    output: 's',
    kind: 'classification',
    classes: 3,
    rowWidth: 3,
  };
  const scalar: QualityTarget = { output: 'y', kind: 'regression', classes: 0, rowWidth: 1 };
  const pair: QualityTarget = { output: 'y', kind: 'regression', classes: 0, rowWidth: 2 };

  it('of a classification are class indices, or score rows whose argmax is taken', () => {
    expect(inlinePrediction(classifier, '1', 2).values).toEqual([2]);
    expect(inlinePrediction(classifier, '1', [2, 0]).values).toEqual([2, 0]);
    const scored = inlinePrediction(classifier, '1', [
      [0.1, 0.8, 0.1],
      [0.9, 0, 0.1],
    ]);
    expect(scored).toMatchObject({ rows: 2, width: 3 });
    expect(scored.values).toEqual([1, 0]);
    expect(() => inlinePrediction(classifier, '1', 3)).toThrow(
      '"prediction" is 3, not a class index of output "s" (an integer from 0 to 2)',
    );
    expect(() => inlinePrediction(classifier, '1', [[0.1, 0.9]])).toThrow(
      "prediction[0] must be a class index, or the row's 3 scores (a list of numbers)",
    );
    expect(() => inlinePrediction(classifier, '1', [])).toThrow('"prediction" is empty');
  });

  it('of a regression are values: a flat list is one value per row, or the one row of a wider output', () => {
    expect(inlinePrediction(scalar, '1', [1, 2, 3])).toMatchObject({ rows: 3, width: 1 });
    expect(inlinePrediction(scalar, '1', 1.5)).toMatchObject({ rows: 1, width: 1 });
    expect(inlinePrediction(pair, '1', [1, 2])).toMatchObject({ rows: 1, width: 2 });
    expect(
      inlinePrediction(pair, '1', [
        [1, 2],
        [3, 4],
      ]),
    ).toMatchObject({ rows: 2, width: 2 });
    expect(() => inlinePrediction(pair, '1', [[1, 2], [3]])).toThrow(
      'prediction[1] has 1 values but each row of the prediction has 2',
    );
  });
});

describe('request ids', () => {
  const gen = (): string => 'generated';

  it('are the body id, else x-request-id, else generated; an empty one counts as none', () => {
    expect(requestId('body', 'header', gen)).toBe('body');
    expect(requestId(undefined, 'header', gen)).toBe('header');
    expect(requestId('', 'header', gen)).toBe('header');
    expect(requestId(undefined, undefined, gen)).toBe('generated');
    expect(requestId(undefined, '', gen)).toBe('generated');
    expect(requestId(undefined, undefined)).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('are at most 256 characters, and not repeated headers', () => {
    expect(requestId('x'.repeat(256), undefined, gen)).toHaveLength(256);
    expect(() => requestId('x'.repeat(257), undefined, gen)).toThrow(
      'the request id is 257 characters long; with quality tracking on, ids of at most 256 are kept',
    );
    expect(() => requestId(undefined, ['a', 'b'], gen)).toThrow(
      'the x-request-id header is repeated',
    );
  });
});
