// The runtime bench's headline table: one row per model and measure, one
// column per backend that ran (tensorflow, when `npm run setup:native` has
// installed it, next to wasm and cpu).

import type { ModelReport } from './index.js';

const num = (n: number): string =>
  Number.isInteger(n) || n >= 100
    ? Math.round(n).toLocaleString('en-US')
    : n.toFixed(n < 10 ? 2 : 1);

export function backendTable(reports: ModelReport[]): string {
  const backends = [...new Set(reports.map((r) => r.backend))];
  const models = [...new Set(reports.map((r) => r.model))];
  const lines = [
    `| model | measure | ${backends.join(' | ')} |`,
    `|---|---|${backends.map(() => '---').join('|')}|`,
  ];
  for (const model of models) {
    const byBackend = new Map(
      reports.filter((r) => r.model === model).map((r) => [r.backend, r] as const),
    );
    const row = (measure: string, value: (r: ModelReport) => number | undefined): void => {
      const cells = backends.map((b) => {
        const r = byBackend.get(b);
        const v = r === undefined ? undefined : value(r);
        return v === undefined ? '' : num(v);
      });
      lines.push(`| ${model} | ${measure} | ${cells.join(' | ')} |`);
    };
    const first = byBackend.values().next().value;
    for (const { batch } of first?.raw ?? []) {
      row(
        `raw batch ${batch} (samples/s)`,
        (r) => r.raw.find((x) => x.batch === batch)?.samplesPerSecond,
      );
    }
    for (const { concurrency } of first?.json ?? []) {
      row(
        `JSON c=${concurrency} (req/s)`,
        (r) => r.json.find((x) => x.concurrency === concurrency)?.requestsPerSecond,
      );
      row(
        `binary c=${concurrency} (req/s)`,
        (r) => r.binary.find((x) => x.concurrency === concurrency)?.requestsPerSecond,
      );
      row(
        `binary c=${concurrency} p99 (ms)`,
        (r) => r.binary.find((x) => x.concurrency === concurrency)?.p99Ms,
      );
      row(
        `HTTP-only JSON c=${concurrency} (req/s)`,
        (r) => r.httpOnly.json.find((x) => x.concurrency === concurrency)?.requestsPerSecond,
      );
      row(
        `HTTP-only binary c=${concurrency} (req/s)`,
        (r) => r.httpOnly.binary.find((x) => x.concurrency === concurrency)?.requestsPerSecond,
      );
    }
  }
  return lines.join('\n');
}
