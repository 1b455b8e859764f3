// (3) Served throughput and latency: the runtime (or the naive baseline) in
// its own process, driven by autocannon at several concurrencies.

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const TSX = createRequire(import.meta.url).resolve('tsx');
const MAIN = fileURLToPath(new URL('../../src/runtime/main.ts', import.meta.url));
const NAIVE = fileURLToPath(new URL('./naive-server.ts', import.meta.url));

export interface ServedResult {
  concurrency: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export interface ServerHandle {
  port: number;
  stop(): Promise<void>;
}

function waitFor(child: ChildProcess, pattern: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${err.slice(-2000)}`)));
  });
}

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

export async function startRuntime(
  modelDir: string,
  backend: string,
  extra: string[] = [],
): Promise<ServerHandle> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      TSX,
      MAIN,
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
      '--log-level',
      'info',
      '--max-queue-size',
      '4096',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const port = await waitFor(child, /Server listening at http:\/\/127\.0\.0\.1:(\d+)/);
  await waitReady(port);
  return { port, stop: stopper(child) };
}

export async function startNaive(modelDir: string, backend: string): Promise<ServerHandle> {
  const child = spawn(process.execPath, ['--import', TSX, NAIVE, modelDir, '0', backend], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await waitFor(child, /listening (\d+)/);
  return { port, stop: stopper(child) };
}

export async function load(
  url: string,
  concurrency: number,
  seconds: number,
  body: Buffer,
  headers: Record<string, string>,
): Promise<ServedResult> {
  // A short warm-up at the same concurrency, then the measured run.
  await autocannon({ url, connections: concurrency, duration: 1, method: 'POST', headers, body });
  const r = await autocannon({
    url,
    connections: concurrency,
    duration: seconds,
    method: 'POST',
    headers,
    body,
    timeout: 30,
  });
  return {
    concurrency,
    requestsPerSecond: r['2xx'] / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors + r.non2xx + r.timeouts,
  };
}
