// (3) Served throughput and latency: the runtime (or the naive baseline) in
// its own process, driven by autocannon at several concurrencies.

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { CpuUse } from './cpu.js';
import { cpuBetween, sampleCpu } from './cpu.js';

const TSX = createRequire(import.meta.url).resolve('tsx');
const MAIN = fileURLToPath(new URL('../../src/runtime/main.ts', import.meta.url));
const NAIVE = fileURLToPath(new URL('./naive-server.ts', import.meta.url));
const CANNED = fileURLToPath(new URL('./canned-server.ts', import.meta.url));

export interface ServedResult {
  concurrency: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpu: CpuUse;
}

export interface ServerHandle {
  port: number;
  /** The runtime's gRPC port (the runtime only). */
  grpcPort?: number;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** The first number each pattern captures in the child's output, once all have matched. */
function waitForAll(child: ChildProcess, patterns: RegExp[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const found = patterns.map((p) => p.exec(out)?.[1]);
      if (found.every((m) => m !== undefined)) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(found.map(Number));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${err.slice(-2000)}`)));
  });
}

const waitFor = async (child: ChildProcess, pattern: RegExp): Promise<number> =>
  (await waitForAll(child, [pattern]))[0]!;

async function waitReady(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/v2/health/ready`)).status === 200) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('runtime did not become ready');
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
}

export interface RuntimeLaunch {
  /** The compiled runtime (build.ts); without it, the TypeScript sources under tsx. */
  mainJs?: string;
  /** Flags for node itself (e.g. --cpu-prof). */
  nodeFlags?: string[];
}

export async function startRuntime(
  modelDir: string,
  backend: string,
  extra: string[] = [],
  launch: RuntimeLaunch = {},
): Promise<ServerHandle> {
  const entry = launch.mainJs === undefined ? ['--import', TSX, MAIN] : [launch.mainJs];
  const child = spawn(
    process.execPath,
    [
      ...(launch.nodeFlags ?? []),
      ...entry,
      'serve',
      '--model-name',
      'bench',
      '--model-uri',
      modelDir,
      '--backend',
      backend,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      // gRPC on a free port too: a bench must not depend on 8500 being free.
      '--grpc-port',
      '0',
      '--log-level',
      'info',
      '--max-queue-size',
      '4096',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const [port, grpcPort] = await waitForAll(child, [
    /Server listening at http:\/\/127\.0\.0\.1:(\d+)/,
    /gRPC listening on port (\d+)/,
  ]);
  await waitReady(port!);
  return { port: port!, grpcPort: grpcPort!, pid: child.pid, stop: stopper(child) };
}

export async function startNaive(modelDir: string, backend: string): Promise<ServerHandle> {
  const child = spawn(process.execPath, ['--import', TSX, NAIVE, modelDir, '0', backend], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await waitFor(child, /listening (\d+)/);
  return { port, pid: child.pid, stop: stopper(child) };
}

/** The HTTP-only ceiling (canned-server.ts), answering with the given response bytes. */
export async function startCanned(
  jsonFile: string,
  binaryFile: string,
  binaryHeaderLength: number,
): Promise<ServerHandle> {
  const child = spawn(
    process.execPath,
    ['--import', TSX, CANNED, '0', jsonFile, binaryFile, String(binaryHeaderLength)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const port = await waitFor(child, /listening (\d+)/);
  return { port, pid: child.pid, stop: stopper(child) };
}

export async function load(
  server: ServerHandle,
  path: string,
  concurrency: number,
  seconds: number,
  body: Buffer,
  headers: Record<string, string>,
): Promise<ServedResult> {
  const url = `http://127.0.0.1:${server.port}${path}`;
  // A short warm-up at the same concurrency, then the measured run.
  await autocannon({ url, connections: concurrency, duration: 1, method: 'POST', headers, body });
  const before = sampleCpu(server.pid);
  const r = await autocannon({
    url,
    connections: concurrency,
    duration: seconds,
    method: 'POST',
    headers,
    body,
    timeout: 30,
  });
  const cpu = cpuBetween(before, sampleCpu(server.pid));
  return {
    concurrency,
    requestsPerSecond: r['2xx'] / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors + r.non2xx + r.timeouts,
    cpu,
  };
}
