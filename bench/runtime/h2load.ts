// gRPC against REST binary with the same load generator: h2load (nghttp2's,
// in C, Debian's nghttp2-client), so that neither side is measured through
// a client that costs more than the server (grpc-js's client spent about
// 165 us per call, against autocannon's 17 us per REST request). gRPC is
// one HTTP/2 connection with `concurrency` streams, as one channel of a
// gRPC client; REST binary is `concurrency` HTTP/1.1 keep-alive
// connections. A gRPC error still has HTTP status 200 (the status is in the
// trailers), so a call counts as answered only when the runtime's own
// tensorfleet_runtime_requests_total{code="200"} counted it.

import { spawn, spawnSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelSignature } from '../../src/runtime/models/signature.js';
import { packageDefinition } from '../../src/runtime/grpc/protos.js';
import { percentile } from '../../test/support/load.js';
import { cpuBetween, procCpuSeconds, sampleCpu } from './cpu.js';
import type { ServedResult } from './served.js';

export const H2LOAD = 'h2load';

/** Why h2load cannot run here, or undefined when it can. */
export function h2loadMissing(): string | undefined {
  const probe = spawnSync(H2LOAD, ['--version'], { encoding: 'utf8' });
  return probe.error === undefined && probe.status === 0
    ? undefined
    : 'h2load is not installed (apt-get install nghttp2-client; .ci/run installs it)';
}

export interface H2Target {
  protocol: 'grpc' | 'oip';
  url: string;
  /** The request body, written to a file for h2load's -d. */
  bodyFile: string;
  headers: Record<string, string>;
}

/** The REST binary run's tensor as a framed ModelInferRequest in raw_input_contents (tritonclient's form). */
export async function grpcTarget(
  sig: ModelSignature,
  model: string,
  body: Buffer,
  headerLength: number,
  grpcPort: number,
  dir: string,
): Promise<H2Target> {
  const input = sig.inputs[0]!;
  const dims = [1, ...input.shape.slice(1).map((d) => (d < 0 ? 1 : d))];
  const def = packageDefinition()['inference.GRPCInferenceService'] as unknown as Record<
    string,
    { requestSerialize(value: unknown): Buffer }
  >;
  const message = def['ModelInfer']!.requestSerialize({
    model_name: model,
    inputs: [{ name: input.name, datatype: 'FP32', shape: dims.map(String) }],
    outputs: [{ name: sig.outputs[0]?.name }],
    raw_input_contents: [body.subarray(headerLength)],
  });
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt32BE(message.length, 1);
  message.copy(framed, 5);
  const bodyFile = join(dir, 'model-infer.grpc');
  await writeFile(bodyFile, framed);
  return {
    protocol: 'grpc',
    url: `http://127.0.0.1:${grpcPort}/inference.GRPCInferenceService/ModelInfer`,
    bodyFile,
    headers: { 'content-type': 'application/grpc', te: 'trailers' },
  };
}

async function answeredOk(metricsPort: number, protocol: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('tensorfleet_runtime_requests_total{') &&
        l.includes(`protocol="${protocol}"`) &&
        l.includes('code="200"'),
    );
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

interface H2Run {
  succeeded: number;
  failed: number;
  latenciesMs: number[];
  loadgenCpuSeconds: number;
}

async function h2load(
  target: H2Target,
  concurrency: number,
  seconds: number,
  logFile: string,
): Promise<H2Run> {
  const shape =
    target.protocol === 'grpc'
      ? ['-c', '1', '-m', String(concurrency)]
      : ['--h1', '-c', String(concurrency), '-m', '1'];
  const args = [
    ...shape,
    '-t',
    '1',
    '-D',
    String(seconds),
    '-d',
    target.bodyFile,
    ...Object.entries(target.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    `--log-file=${logFile}`,
    target.url,
  ];
  // h2load appends to its log: start each run on an empty one.
  await rm(logFile, { force: true });
  const child = spawn(H2LOAD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // Its CPU time, read until it exits (the last reading is within 100 ms of the end).
  let cpu = 0;
  const poll = setInterval(() => {
    cpu = procCpuSeconds(child.pid ?? 0) ?? cpu;
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(poll);
  const counts =
    /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      out,
    );
  if (code !== 0 || counts === null)
    throw new Error(`h2load failed (${code}): ${out.slice(-2000)}`);
  const latenciesMs = (await readFile(logFile, 'utf8'))
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => Number(l.split('\t')[2]) / 1000);
  return {
    succeeded: Number(counts[1]),
    failed: Number(counts[2]) + Number(counts[3]) + Number(counts[4]),
    latenciesMs,
    loadgenCpuSeconds: cpu,
  };
}

/** A 1 s warm-up at the same concurrency, then the measured run. */
export async function loadH2(
  server: { port: number; pid: number | undefined },
  target: H2Target,
  concurrency: number,
  seconds: number,
  dir: string,
): Promise<ServedResult> {
  await h2load(target, concurrency, 1, join(dir, 'h2load-warmup.log'));
  const logFile = join(dir, 'h2load.log');
  const okBefore = await answeredOk(server.port, target.protocol);
  const before = sampleCpu(server.pid);
  const run = await h2load(target, concurrency, seconds, logFile);
  const cpu = cpuBetween(before, sampleCpu(server.pid));
  // Calls h2load cut off at the end may still have been answered: only a shortfall is an error.
  const ok = Math.min(run.succeeded, (await answeredOk(server.port, target.protocol)) - okBefore);
  return {
    concurrency,
    requestsPerSecond: ok / seconds,
    p50Ms: Number(percentile(run.latenciesMs, 50).toFixed(1)),
    p99Ms: Number(percentile(run.latenciesMs, 99).toFixed(1)),
    errors: run.failed + (run.succeeded - ok),
    cpu: { ...cpu, loadgenCores: run.loadgenCpuSeconds / seconds },
  };
}
