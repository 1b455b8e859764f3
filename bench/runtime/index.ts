// The runtime benchmark: per model (MLP 784-128-10, 3-conv CNN at 224x224x3)
// and per available backend, measures (1) raw in-process throughput,
// (2) decode cost per request, (3) served throughput and latency over JSON
// and binary tensors at concurrency 1/16/64, (4) gRPC (OIP ModelInfer) against
// REST binary with one load generator, h2load, for both (h2load.ts), (5) the
// naive fastify baseline.
// Serving efficiency = served / min(raw compute, decode ceiling).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendName } from '../../src/runtime/backends/select.js';
import { loadBackend } from '../../src/runtime/backends/select.js';
import { loadModel } from '../../src/runtime/models/load.js';
import { writeCnn, writeMlpGraph } from '../../test/support/models.js';
import { buildRuntime, runtimeNodeFlags } from './build.js';
import { binaryBody, decodeCosts, jsonBody } from './decode.js';
import type { H2Target } from './h2load.js';
import { grpcTarget, h2loadMissing, loadH2 } from './h2load.js';
import type { DecodeResult } from './decode.js';
import type { RawResult } from './raw.js';
import { rawThroughput } from './raw.js';
import type { ServedResult, ServerHandle } from './served.js';
import { load, startCanned, startNaive, startRuntime } from './served.js';

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
  /**
   * OIP ModelInfer over gRPC (raw_input_contents) and REST binary, both from
   * h2load (h2load.ts), on the same runtime process; empty without h2load.
   */
  sameClient: { grpc: ServedResult[]; binary: ServedResult[] };
  /** The HTTP-only ceiling: canned responses, same requests (canned-server.ts). */
  httpOnly: { json: ServedResult[]; binary: ServedResult[] };
  naive: ServedResult[];
}

interface Request {
  path: string;
  body: Buffer;
  headers: Record<string, string>;
}

interface Requests {
  json: Request;
  binary: Request;
}

interface Canned {
  jsonFile: string;
  binaryFile: string;
  headerLength: number;
}

/** Records the runtime's answers to the bench requests, for the HTTP-only server to replay. */
async function cannedResponses(server: ServerHandle, req: Requests, dir: string): Promise<Canned> {
  const fetchBody = async (r: Request): Promise<Response> => {
    const res = await fetch(`http://127.0.0.1:${server.port}${r.path}`, {
      method: 'POST',
      headers: r.headers,
      body: r.body,
    });
    if (res.status !== 200)
      throw new Error(`${r.path} answered ${res.status}: ${await res.text()}`);
    return res;
  };
  const json = await fetchBody(req.json);
  const binary = await fetchBody(req.binary);
  const jsonFile = join(dir, 'canned.json');
  const binaryFile = join(dir, 'canned.bin');
  await writeFile(jsonFile, Buffer.from(await json.arrayBuffer()));
  await writeFile(binaryFile, Buffer.from(await binary.arrayBuffer()));
  return {
    jsonFile,
    binaryFile,
    headerLength: Number(binary.headers.get('inference-header-content-length')),
  };
}

const cores = (n: number | undefined): string => (n === undefined ? '?' : n.toFixed(2));

/** Loads one server at every concurrency, over JSON (and binary tensors when asked). */
async function measure(
  server: ServerHandle,
  req: Requests,
  opts: RuntimeBenchOptions,
  label: string,
  withBinary: boolean,
): Promise<{ json: ServedResult[]; binary: ServedResult[] }> {
  const out: { json: ServedResult[]; binary: ServedResult[] } = { json: [], binary: [] };
  const formats = withBinary ? (['json', 'binary'] as const) : (['json'] as const);
  for (const c of opts.concurrencies) {
    for (const format of formats) {
      const r = req[format];
      const res = await load(server, r.path, c, opts.seconds, r.body, r.headers);
      out[format].push(res);
      opts.log(
        `${`${label} ${format}`.padEnd(16)} c=${c}: ${fmt(res.requestsPerSecond)} req/s p50 ${res.p50Ms} ms p99 ${res.p99Ms} ms errors ${res.errors}; ` +
          `CPU cores: server ${cores(res.cpu.serverCores)} (HTTP thread ${cores(res.cpu.httpThreadCores)}), load generator ${cores(res.cpu.loadgenCores)}`,
      );
    }
  }
  return out;
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
    const mainJs = await buildRuntime();
    const nodeFlags = await runtimeNodeFlags();
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
        const requests: Requests = {
          json: {
            path: '/v1/models/bench:predict',
            body: json,
            headers: { 'content-type': 'application/json' },
          },
          binary: {
            path: '/v2/models/bench/infer',
            body: bin.body,
            headers: {
              'content-type': 'application/octet-stream',
              'inference-header-content-length': String(bin.headerLength),
            },
          },
        };
        const runtime = await startRuntime(modelDir, backend, opts.serveFlags, {
          mainJs,
          nodeFlags,
        });
        let served: { json: ServedResult[]; binary: ServedResult[] };
        const sameClient = { grpc: [] as ServedResult[], binary: [] as ServedResult[] };
        let canned: Canned;
        try {
          canned = await cannedResponses(runtime, requests, dir);
          served = await measure(runtime, requests, opts, 'served', true);
          const missing = h2loadMissing();
          if (missing !== undefined) opts.log(`gRPC against REST binary skipped: ${missing}`);
          else {
            const binaryFile = join(dir, 'infer.bin');
            await writeFile(binaryFile, bin.body);
            const targets: [keyof typeof sameClient, H2Target][] = [
              [
                'grpc',
                await grpcTarget(sig, 'bench', bin.body, bin.headerLength, runtime.grpcPort!, dir),
              ],
              [
                'binary',
                {
                  protocol: 'oip',
                  url: `http://127.0.0.1:${runtime.port}${requests.binary.path}`,
                  bodyFile: binaryFile,
                  headers: requests.binary.headers,
                },
              ],
            ];
            for (const c of opts.concurrencies) {
              for (const [kind, target] of targets) {
                const res = await loadH2(runtime, target, c, opts.seconds, dir);
                sameClient[kind].push(res);
                opts.log(
                  `${`h2load ${kind}`.padEnd(16)} c=${c}: ${fmt(res.requestsPerSecond)} req/s p50 ${res.p50Ms} ms p99 ${res.p99Ms} ms errors ${res.errors}; ` +
                    `CPU cores: server ${cores(res.cpu.serverCores)} (HTTP thread ${cores(res.cpu.httpThreadCores)}), load generator ${cores(res.cpu.loadgenCores)}`,
                );
              }
            }
          }
        } finally {
          await runtime.stop();
        }
        const ceilingServer = await startCanned(
          canned.jsonFile,
          canned.binaryFile,
          canned.headerLength,
        );
        let httpOnly: { json: ServedResult[]; binary: ServedResult[] };
        try {
          httpOnly = await measure(ceilingServer, requests, opts, 'HTTP-only', true);
        } finally {
          await ceilingServer.stop();
        }
        const naive = await startNaive(modelDir, backend);
        let naiveRes: ServedResult[];
        try {
          naiveRes = (await measure(naive, requests, opts, 'naive', false)).json;
        } finally {
          await naive.stop();
        }
        reports.push({
          model: modelName,
          backend,
          raw,
          decode,
          json: served.json,
          binary: served.binary,
          sameClient,
          httpOnly,
          naive: naiveRes,
        });
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return reports;
}

/** Markdown summary with serving efficiency, CPU use and the targets from the issue. */
export function summarize(reports: ModelReport[]): string {
  const lines: string[] = [];
  const us = (cpuCores: number | undefined, rps: number): string =>
    cpuCores === undefined || rps === 0 ? '' : ((cpuCores * 1e6) / rps).toFixed(0);
  for (const r of reports) {
    const rawBest = Math.max(...r.raw.map((x) => x.samplesPerSecond));
    const rawSingle = r.raw[0];
    const jsonCeiling = 1e6 / r.decode.jsonDecodeUs;
    const binaryCeiling = 1e6 / r.decode.binaryDecodeUs;
    lines.push(`### ${r.model} on ${r.backend}`, '');
    lines.push(
      `raw: ${r.raw.map((x) => `batch ${x.batch} ${fmt(x.samplesPerSecond)}/s`).join(', ')}; batching gain ${(rawBest / (rawSingle?.samplesPerSecond ?? 1)).toFixed(1)}x`,
    );
    lines.push(
      `decode per request: JSON ${r.decode.jsonDecodeUs.toFixed(0)} us (${r.decode.jsonBytes} B; JSON.parse + general decoder ${r.decode.jsonGeneralUs.toFixed(0)} us, JSON.parse alone ${r.decode.jsonParseUs.toFixed(0)} us, Array.flat ${r.decode.arrayFlatUs.toFixed(0)} us), binary ${r.decode.binaryDecodeUs.toFixed(1)} us`,
    );
    lines.push(
      `ceilings (issue 8): min(raw ${fmt(rawBest)}, decode) = JSON ${fmt(Math.min(rawBest, jsonCeiling))}/s, binary ${fmt(Math.min(rawBest, binaryCeiling))}/s`,
      '',
    );
    lines.push(
      '| server | format | c | req/s | p50 ms | p99 ms | errors | efficiency (issue) | vs HTTP-only | vs naive | server CPU cores | HTTP thread cores | load gen cores | server CPU us/req | HTTP thread us/req |',
    );
    lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    const rows: [string, string, ServedResult[], ServedResult[], number][] = [
      ['runtime', 'JSON', r.json, r.httpOnly.json, jsonCeiling],
      ['runtime', 'binary', r.binary, r.httpOnly.binary, binaryCeiling],
      ['runtime', 'gRPC (OIP, raw), h2load', r.sameClient.grpc, r.httpOnly.binary, binaryCeiling],
      ['runtime', 'binary, h2load', r.sameClient.binary, r.httpOnly.binary, binaryCeiling],
      ['HTTP-only', 'JSON', r.httpOnly.json, r.httpOnly.json, jsonCeiling],
      ['HTTP-only', 'binary', r.httpOnly.binary, r.httpOnly.binary, binaryCeiling],
      [
        'naive',
        'JSON',
        r.naive,
        r.httpOnly.json,
        1e6 / (r.decode.jsonParseUs + r.decode.arrayFlatUs),
      ],
    ];
    for (const [server, format, results, http, decodeCeiling] of rows) {
      results.forEach((s, i) => {
        const ceiling = Math.min(rawBest, decodeCeiling);
        const naive = r.naive[i];
        const h = http[i];
        const ratio = (x: ServedResult | undefined, suffix = ''): string =>
          x === undefined
            ? ''
            : `${(s.requestsPerSecond / x.requestsPerSecond).toFixed(2)}${suffix}`;
        lines.push(
          `| ${server} | ${format} | ${s.concurrency} | ${fmt(s.requestsPerSecond)} | ${s.p50Ms} | ${s.p99Ms} | ${s.errors} | ` +
            `${(s.requestsPerSecond / ceiling).toFixed(2)} | ${ratio(h)} | ${ratio(naive, 'x')} | ` +
            `${cores(s.cpu.serverCores)} | ${cores(s.cpu.httpThreadCores)} | ${cores(s.cpu.loadgenCores)} | ` +
            `${us(s.cpu.serverCores, s.requestsPerSecond)} | ${us(s.cpu.httpThreadCores, s.requestsPerSecond)} |`,
        );
      });
    }
    lines.push(
      '',
      'efficiency (issue) = req/s / min(raw compute, decode ceiling); vs HTTP-only = req/s / the canned-response server at the same concurrency and format, the most this HTTP stack allows on this machine with the load generator beside it.',
    );
    const formats: [string, ServedResult[], ServedResult[], number][] = [
      ['JSON', r.json, r.httpOnly.json, jsonCeiling],
      ['binary', r.binary, r.httpOnly.binary, binaryCeiling],
    ];
    for (const [format, served, http, decodeCeiling] of formats) {
      const top = Math.max(...served.map((x) => x.concurrency));
      const s = served.find((x) => x.concurrency === top);
      const h = http.find((x) => x.concurrency === top);
      if (s === undefined || h === undefined) continue;
      // 0.8 of the ceiling is out of reach when a server that neither decodes nor computes stays below it.
      const target = 0.8 * Math.min(rawBest, decodeCeiling);
      const verdict =
        s.requestsPerSecond >= target
          ? 'met'
          : h.requestsPerSecond < target
            ? `not reachable on this machine: the HTTP-only server (no decode, no model) peaks at ${fmt(h.requestsPerSecond)} req/s`
            : 'not met';
      lines.push(
        `efficiency >= 0.8, ${format} c=${top}: needs ${fmt(target)} req/s, served ${fmt(s.requestsPerSecond)} (${(s.requestsPerSecond / (target / 0.8)).toFixed(2)}): ${verdict}`,
      );
    }
    // #18's target: gRPC at the top concurrency at least as fast as REST with
    // binary tensors, both driven by h2load in the same run.
    const top = Math.max(...r.binary.map((x) => x.concurrency));
    const g = r.sameClient.grpc.find((x) => x.concurrency === top);
    const b = r.sameClient.binary.find((x) => x.concurrency === top);
    if (g !== undefined && b !== undefined) {
      lines.push(
        `gRPC >= REST binary (h2load for both), c=${top}: ${fmt(g.requestsPerSecond)} against ${fmt(b.requestsPerSecond)} req/s (${(g.requestsPerSecond / b.requestsPerSecond).toFixed(2)}x), ` +
          `server CPU ${us(g.cpu.serverCores, g.requestsPerSecond)} against ${us(b.cpu.serverCores, b.requestsPerSecond)} us/call, errors ${g.errors} and ${b.errors}: ` +
          `${g.requestsPerSecond >= b.requestsPerSecond && g.errors === 0 ? 'met' : 'not met'}`,
      );
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
      const h1 = r.httpOnly.json.find((s) => s.concurrency === 1);
      const h1b = r.httpOnly.binary.find((s) => s.concurrency === 1);
      lines.push(
        '',
        `concurrency 1, mean round trip: JSON ${meanJson.toFixed(2)} ms, binary ${meanBin.toFixed(2)} ms; ` +
          `added over raw single inference (${rawSingle.msPerCall.toFixed(2)} ms) + decode: JSON ${addedJson.toFixed(2)} ms, binary ${addedBin.toFixed(2)} ms (includes the load generator's own time` +
          (h1 && h1b
            ? `; the HTTP-only server's round trip is ${(1000 / h1.requestsPerSecond).toFixed(2)} ms JSON, ${(1000 / h1b.requestsPerSecond).toFixed(2)} ms binary)`
            : ')'),
      );
    }
    lines.push(...againstNaive(r));
    lines.push('');
  }
  return lines.join('\n');
}

/**
 * The runtime against the naive inline handler, JSON (the only format the
 * naive server speaks): at concurrency 1, mean round trip and server CPU per
 * request no higher than its; at every higher concurrency, no fewer req/s.
 */
function againstNaive(r: ModelReport): string[] {
  const lines: string[] = [];
  const cpuUs = (s: ServedResult): number | undefined =>
    s.cpu.serverCores === undefined ? undefined : (s.cpu.serverCores * 1e6) / s.requestsPerSecond;
  for (const naive of r.naive) {
    const served = r.json.find((s) => s.concurrency === naive.concurrency);
    if (served === undefined) continue;
    if (naive.concurrency === 1) {
      const ours = 1000 / served.requestsPerSecond;
      const theirs = 1000 / naive.requestsPerSecond;
      const oursCpu = cpuUs(served);
      const theirsCpu = cpuUs(naive);
      const cpuMet = oursCpu !== undefined && theirsCpu !== undefined && oursCpu <= theirsCpu;
      lines.push(
        `vs naive, c=1: round trip ${ours.toFixed(3)} ms against ${theirs.toFixed(3)} ms (${(ours / theirs).toFixed(2)}x): ${ours <= theirs ? 'met' : 'not met'}; ` +
          `server CPU ${oursCpu?.toFixed(0) ?? '?'} us/request against ${theirsCpu?.toFixed(0) ?? '?'} us (${oursCpu !== undefined && theirsCpu !== undefined ? (oursCpu / theirsCpu).toFixed(2) : '?'}x): ${cpuMet ? 'met' : 'not met'}`,
      );
    } else {
      const ratio = served.requestsPerSecond / naive.requestsPerSecond;
      lines.push(
        `vs naive, c=${naive.concurrency}: ${fmt(served.requestsPerSecond)} req/s against ${fmt(naive.requestsPerSecond)} (${ratio.toFixed(2)}x), errors ${served.errors}: ${ratio >= 1 && served.errors === 0 ? 'no loss' : 'loss'}`,
      );
    }
  }
  return lines;
}
