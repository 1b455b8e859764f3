// The runtime benchmark: per model (MLP 784-128-10, 3-conv CNN at 224x224x3)
// and per available backend, measures (1) raw in-process throughput,
// (2) decode cost per request, (3) served throughput and latency over JSON
// and binary tensors at concurrency 1/16/64, (4) the naive fastify baseline.
// Serving efficiency = served / min(raw compute, decode ceiling).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendName } from '../../src/runtime/backends/select.js';
import { loadBackend } from '../../src/runtime/backends/select.js';
import { loadModel } from '../../src/runtime/models/load.js';
import { writeCnn, writeMlpGraph } from '../../src/runtime/testing/models.js';
import { binaryBody, decodeCosts, jsonBody } from './decode.js';
import type { DecodeResult } from './decode.js';
import type { RawResult } from './raw.js';
import { rawThroughput } from './raw.js';
import type { ServedResult } from './served.js';
import { load, startNaive, startRuntime } from './served.js';

export interface RuntimeBenchOptions {
  models: ('mlp' | 'cnn')[];
  backends: BackendName[];
  seconds: number;
  concurrencies: number[];
  /** Extra flags for `tensorfleet-runtime serve` (e.g. --workers 2). */
  serveFlags: string[];
  log: (line: string) => void;
}

export interface ModelReport {
  model: string;
  backend: BackendName;
  raw: RawResult[];
  decode: DecodeResult;
  json: ServedResult[];
  binary: ServedResult[];
  naive: ServedResult[];
}

const fmt = (n: number, digits = 0): string =>
  n >= 100
    ? Math.round(n).toLocaleString('en-US')
    : n.toFixed(digits === 0 && n < 10 ? 2 : digits || 1);

async function availableBackends(wanted: BackendName[]): Promise<BackendName[]> {
  const out: BackendName[] = [];
  for (const b of wanted) {
    try {
      await loadBackend(b);
      out.push(b);
    } catch {
      // not installed here (the native backends are optional)
    }
  }
  return out;
}

export async function runRuntimeBench(opts: RuntimeBenchOptions): Promise<ModelReport[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tensorfleet-bench-'));
  const reports: ModelReport[] = [];
  try {
    const backends = await availableBackends(opts.backends);
    opts.log(`backends available: ${backends.join(', ')} (asked for ${opts.backends.join(', ')})`);
    for (const modelName of opts.models) {
      const modelDir =
        modelName === 'mlp'
          ? await writeMlpGraph(join(dir, 'mlp'))
          : await writeCnn(join(dir, 'cnn'), { size: 224, channels: 3 });
      const batches = modelName === 'mlp' ? [1, 32] : [1, 8];
      for (const backend of backends) {
        opts.log(`\n## ${modelName} on ${backend}`);
        const raw = await rawThroughput(modelDir, backend, batches, Math.min(3, opts.seconds));
        for (const r of raw)
          opts.log(
            `raw batch ${r.batch}: ${fmt(r.samplesPerSecond)} samples/s (${r.msPerCall.toFixed(2)} ms/call)`,
          );
        const be = await loadBackend(backend);
        const model = await loadModel(
          be.tf,
          be.name,
          modelDir,
          modelName === 'mlp' ? 'tfjs-graph' : 'tfjs-layers',
          'serving_default',
        );
        const sig = model.signature;
        model.dispose();
        const decode = decodeCosts(sig, 1);
        opts.log(
          `decode: JSON.parse ${decode.jsonParseUs.toFixed(0)} us, Array.flat ${decode.arrayFlatUs.toFixed(0)} us, ` +
            `runtime JSON decode ${decode.jsonDecodeUs.toFixed(0)} us (${decode.jsonBytes} B), binary decode ${decode.binaryDecodeUs.toFixed(1)} us (${decode.binaryBytes} B)`,
        );
        const json = jsonBody(sig);
        const bin = binaryBody(sig);
        const runtime = await startRuntime(modelDir, backend, opts.serveFlags);
        const jsonRes: ServedResult[] = [];
        const binRes: ServedResult[] = [];
        try {
          for (const c of opts.concurrencies) {
            const r = await load(
              `http://127.0.0.1:${runtime.port}/v1/models/bench:predict`,
              c,
              opts.seconds,
              json,
              {
                'content-type': 'application/json',
              },
            );
            jsonRes.push(r);
            opts.log(
              `served JSON   c=${c}: ${fmt(r.requestsPerSecond)} req/s p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms errors ${r.errors}`,
            );
            const b = await load(
              `http://127.0.0.1:${runtime.port}/v2/models/bench/infer`,
              c,
              opts.seconds,
              bin.body,
              {
                'content-type': 'application/octet-stream',
                'inference-header-content-length': String(bin.headerLength),
              },
            );
            binRes.push(b);
            opts.log(
              `served binary c=${c}: ${fmt(b.requestsPerSecond)} req/s p50 ${b.p50Ms} ms p99 ${b.p99Ms} ms errors ${b.errors}`,
            );
          }
        } finally {
          await runtime.stop();
        }
        const naiveRes: ServedResult[] = [];
        const naive = await startNaive(modelDir, backend);
        try {
          for (const c of opts.concurrencies) {
            const r = await load(
              `http://127.0.0.1:${naive.port}/v1/models/bench:predict`,
              c,
              opts.seconds,
              json,
              {
                'content-type': 'application/json',
              },
            );
            naiveRes.push(r);
            opts.log(
              `naive JSON    c=${c}: ${fmt(r.requestsPerSecond)} req/s p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms errors ${r.errors}`,
            );
          }
        } finally {
          await naive.stop();
        }
        reports.push({
          model: modelName,
          backend,
          raw,
          decode,
          json: jsonRes,
          binary: binRes,
          naive: naiveRes,
        });
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return reports;
}

/** Markdown summary with serving efficiency and the targets from the issue. */
export function summarize(reports: ModelReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    const rawBest = Math.max(...r.raw.map((x) => x.samplesPerSecond));
    const rawSingle = r.raw[0];
    lines.push(`### ${r.model} on ${r.backend}`, '');
    lines.push(
      `raw: ${r.raw.map((x) => `batch ${x.batch} ${fmt(x.samplesPerSecond)}/s`).join(', ')}; batching gain ${(rawBest / (rawSingle?.samplesPerSecond ?? 1)).toFixed(1)}x`,
    );
    lines.push(
      `decode per request: JSON ${r.decode.jsonDecodeUs.toFixed(0)} us (JSON.parse alone ${r.decode.jsonParseUs.toFixed(0)} us, Array.flat ${r.decode.arrayFlatUs.toFixed(0)} us), binary ${r.decode.binaryDecodeUs.toFixed(1)} us`,
      '',
    );
    lines.push(
      '| format | concurrency | req/s | p50 ms | p99 ms | errors | efficiency | vs naive |',
    );
    lines.push('|---|---|---|---|---|---|---|---|');
    const rows: [string, ServedResult[], number][] = [
      ['JSON', r.json, 1e6 / r.decode.jsonDecodeUs],
      ['binary', r.binary, 1e6 / r.decode.binaryDecodeUs],
      ['naive JSON', r.naive, 1e6 / (r.decode.jsonParseUs + r.decode.arrayFlatUs)],
    ];
    for (const [name, results, decodeCeiling] of rows) {
      results.forEach((s, i) => {
        const ceiling = Math.min(rawBest, decodeCeiling);
        const naive = r.naive[i];
        lines.push(
          `| ${name} | ${s.concurrency} | ${fmt(s.requestsPerSecond)} | ${s.p50Ms} | ${s.p99Ms} | ${s.errors} | ${(s.requestsPerSecond / ceiling).toFixed(2)} | ${naive ? (s.requestsPerSecond / naive.requestsPerSecond).toFixed(1) + 'x' : ''} |`,
        );
      });
    }
    const c1 = r.json.find((s) => s.concurrency === 1);
    const c1b = r.binary.find((s) => s.concurrency === 1);
    if (rawSingle && c1 && c1b) {
      // autocannon's percentiles have 1 ms resolution; at concurrency 1 the mean round trip
      // (1 / throughput, client time included) resolves the sub-millisecond overhead.
      const meanJson = 1000 / c1.requestsPerSecond;
      const meanBin = 1000 / c1b.requestsPerSecond;
      const addedJson = meanJson - rawSingle.msPerCall - r.decode.jsonDecodeUs / 1000;
      const addedBin = meanBin - rawSingle.msPerCall - r.decode.binaryDecodeUs / 1000;
      lines.push(
        '',
        `concurrency 1, mean round trip: JSON ${meanJson.toFixed(2)} ms, binary ${meanBin.toFixed(2)} ms; ` +
          `added over raw single inference (${rawSingle.msPerCall.toFixed(2)} ms) + decode: JSON ${addedJson.toFixed(2)} ms, binary ${addedBin.toFixed(2)} ms (includes the load generator's own time)`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}
