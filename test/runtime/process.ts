// Runs `tensorfleet-runtime` from source in a child process (through tsx) and
// collects its JSON log lines.

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { testBackend } from './native.js';

const MAIN = fileURLToPath(new URL('../../src/runtime/main.ts', import.meta.url));
const TSX = createRequire(import.meta.url).resolve('tsx');

export interface RuntimeProcess {
  child: ChildProcess;
  port: number;
  logs: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Runs the CLI with `args`; `nodeArgs` go to node before the script (e.g. another --import). */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, ...nodeArgs, MAIN, ...args], {
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function startProcess(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<RuntimeProcess> {
  return startCommand(
    [
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      // Any free gRPC port: tests run runtimes side by side.
      '--grpc-port',
      '0',
      ...args,
    ],
    env,
  );
}

/**
 * Runs `tensorfleet-runtime <argv>` and resolves once its HTTP port listens
 * on a loopback address (the command must make it listen there, e.g. with
 * TENSORFLEET_HOST).
 */
export async function startCommand(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<RuntimeProcess> {
  const child = spawn(process.execPath, ['--import', TSX, MAIN, ...argv], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let err = '';
  let buffered = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`runtime did not listen in time: ${err}`)),
      60_000,
    );
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        // Any loopback address: a runtime may stand for a simulated pod at its IP.
        const m = /Server listening at http:\/\/127(?:\.\d+){3}:(\d+)/.exec(String(entry['msg']));
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      }
    });
    void exited.then((code) =>
      reject(new Error(`runtime exited (${code}) before listening: ${err}`)),
    );
  });
  return { child, port, logs, stderr: () => err, exited };
}

export async function waitReady(port: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/health/ready`);
      if (res.status === 200) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('runtime did not become ready');
}

/** Serves TF Serving's half_plus_two as model `hpt` with one worker, plus `extra` flags. */
export function startHalfPlusTwo(
  modelDir: string,
  extra: readonly string[] = [],
): Promise<RuntimeProcess> {
  return startProcess([
    '--model-name',
    'hpt',
    '--model-uri',
    modelDir,
    '--backend',
    testBackend(),
    '--workers',
    '1',
    ...extra,
  ]);
}
