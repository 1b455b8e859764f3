// Feedback bodies: which prediction they label (a request id, or the
// prediction itself inline) and the labels, checked against that
// prediction's rows with messages that say what is wrong and where. Pure:
// JSON values in, a prediction's hits or errors out.
//
//   {"id": "<request id>", "label": L}
//   {"prediction": P, "label": L}
//
// L, for a prediction of n rows: one label per row in a list, or for one row
// the label alone. A classification label is a class index; a regression
// label the row's values (a number for a one-value row).

import { invalidInput } from '../errors.js';
import type { Prediction } from './prediction.js';
import { argmax } from './prediction.js';
import type { QualityTarget } from './target.js';

export type FeedbackBody = { id: string; label: unknown } | { prediction: unknown; label: unknown };

/** What the labels say about a prediction, row by row. */
export type Judgement =
  { kind: 'classification'; hits: boolean[] } | { kind: 'regression'; errors: number[] };

const FIELDS = ['id', 'prediction', 'label'];
const SHAPE =
  'a feedback body is {"id": "<request id>", "label": ...} or {"prediction": ..., "label": ...}';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function readFeedbackBody(body: unknown): FeedbackBody {
  if (!isPlainObject(body)) throw invalidInput(`the feedback body must be a JSON object; ${SHAPE}`);
  const unknown = Object.keys(body).find((k) => !FIELDS.includes(k));
  if (unknown !== undefined) throw invalidInput(`unknown field "${unknown}"; ${SHAPE}`);
  if (!('label' in body)) throw invalidInput(`"label" is missing; ${SHAPE}`);
  const { id, prediction, label } = body;
  if (id !== undefined && prediction !== undefined)
    throw invalidInput(`the body has both "id" and "prediction"; send one`);
  if (id !== undefined) {
    if (typeof id !== 'string' || id === '')
      throw invalidInput('"id" must be a non-empty string (the request id of the prediction)');
    return { id, label };
  }
  if (prediction === undefined)
    throw invalidInput(`the body has neither "id" nor "prediction"; ${SHAPE}`);
  return { prediction, label };
}

const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A row's numbers, its nesting flattened; undefined when anything in it is not a number. */
function flatten(v: unknown, out: number[] = []): number[] | undefined {
  if (isFiniteNumber(v)) {
    out.push(v);
    return out;
  }
  if (!Array.isArray(v)) return undefined;
  for (const x of v) if (flatten(x, out) === undefined) return undefined;
  return out;
}

const rowCount = (n: number): string => `${n} row${n === 1 ? '' : 's'}`;

/** The value of each row: a list with one per row, or for a single row the value alone. */
function perRow(
  value: unknown,
  rows: number,
  name: string,
  oneRow: (v: unknown) => boolean,
): unknown[] {
  if (rows === 1 && oneRow(value)) return [value];
  if (!Array.isArray(value)) {
    const alone = rows === 1 ? ", or the one row's value" : '';
    throw invalidInput(
      `"${name}" must be a list with one entry per row (${rowCount(rows)})${alone}`,
    );
  }
  if (value.length !== rows)
    throw invalidInput(`"${name}" has ${rowCount(value.length)} but the prediction has ${rows}`);
  return value;
}

/** How a row's entry is named in messages: the field itself when it holds one row alone. */
const entry = (name: string, alone: boolean, r: number): string =>
  alone ? `"${name}"` : `${name}[${r}]`;

const classRange = (classes: number): string =>
  Number.isFinite(classes) && classes > 0
    ? `an integer from 0 to ${classes - 1}`
    : 'a non-negative integer';

function classLabels(p: Prediction, label: unknown, output: string): number[] {
  const rows = perRow(label, p.rows, 'label', isInteger);
  return rows.map((l, r) => {
    if (!isInteger(l) || l < 0 || l >= p.width) {
      throw invalidInput(
        `${entry('label', !Array.isArray(label), r)} is ${JSON.stringify(l)}, not a class index of output "${output}" (${classRange(p.width)})`,
      );
    }
    return l;
  });
}

function regressionRows(value: unknown, rows: number, width: number, name: string): number[][] {
  // For a single row of several values, a flat list is that row.
  const oneRow = (v: unknown): boolean =>
    isFiniteNumber(v) || (width > 1 && Array.isArray(v) && v.every(isFiniteNumber));
  const alone = rows === 1 && oneRow(value);
  return perRow(value, rows, name, oneRow).map((row, r) => {
    const values = flatten(row);
    const where = entry(name, alone, r);
    if (values === undefined) throw invalidInput(`${where} must hold finite numbers only`);
    if (width >= 0 && values.length !== width) {
      throw invalidInput(
        `${where} has ${values.length} values but each row of the prediction has ${width}`,
      );
    }
    return values;
  });
}

/** Judges `p` against `label`: hits per row, or absolute errors per row (the mean over its values). */
export function judge(p: Prediction, label: unknown, output: string): Judgement {
  if (p.kind === 'classification') {
    const labels = classLabels(p, label, output);
    return { kind: 'classification', hits: labels.map((l, r) => p.values[r] === l) };
  }
  const rows = regressionRows(label, p.rows, p.width, 'label');
  const errors = rows.map((row, r) => {
    let sum = 0;
    for (let i = 0; i < p.width; i++)
      sum += Math.abs((p.values[r * p.width + i] as number) - (row[i] as number));
    return p.width === 0 ? 0 : sum / p.width;
  });
  return { kind: 'regression', errors };
}

/**
 * A prediction sent inline: for classification a class index per row, or
 * each row's scores (a list per row; their argmax is the class); for
 * regression each row's values.
 */
export function inlinePrediction(target: QualityTarget, version: string, raw: unknown): Prediction {
  if (Array.isArray(raw) && raw.length === 0) throw invalidInput('"prediction" is empty');
  const listed = Array.isArray(raw) ? raw.length : 1;
  if (target.kind === 'regression') {
    // A flat list is one row of an output with several values a row, else one value per row.
    const oneRow = Array.isArray(raw) && target.rowWidth > 1 && raw.every(isFiniteNumber);
    const rows = oneRow ? 1 : listed;
    const values = regressionRows(raw, rows, target.rowWidth, 'prediction');
    const width = values[0]?.length ?? 0;
    if (values.some((v) => v.length !== width))
      throw invalidInput('the rows of "prediction" have different numbers of values');
    return { version, kind: 'regression', rows, width, values: values.flat() };
  }
  const classes = target.classes > 0 ? target.classes : Infinity;
  const rows = perRow(raw, listed, 'prediction', isInteger);
  const values = rows.map((row, r) => {
    const where = entry('prediction', !Array.isArray(raw), r);
    if (isInteger(row)) {
      if (row < 0 || row >= classes) {
        throw invalidInput(
          `${where} is ${row}, not a class index of output "${target.output}" (${classRange(classes)})`,
        );
      }
      return row;
    }
    const scores = Array.isArray(row) && row.every(isFiniteNumber) ? row : undefined;
    if (scores === undefined || (Number.isFinite(classes) && scores.length !== classes)) {
      const count = Number.isFinite(classes) ? `${classes} ` : '';
      throw invalidInput(
        `${where} must be a class index, or the row's ${count}scores (a list of numbers)`,
      );
    }
    return argmax(scores, 0, scores.length);
  });
  return { version, kind: 'classification', rows: rows.length, width: classes, values };
}
