// The gRPC tests' setup: an in-process runtime with its gRPC server on
// loopback, and the real clients (tools/grpc-clients/setup.sh: a virtualenv
// with tensorflow-serving-api and tritonclient[grpc], and grpc-health-probe)
// run as subprocesses. Under CI=true the clients must already be installed
// (.ci/run installs them); elsewhere they are installed on first use.

import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ServeConfig } from '../../../src/contract/runtime.js';
import { GrpcServer } from '../../../src/runtime/grpc/server.js';
import type { TestRuntime } from '../helpers.js';
import { startRuntime } from '../helpers.js';

const run = promisify(execFile);
const SETUP = fileURLToPath(new URL('../../../tools/grpc-clients/setup.sh', import.meta.url));
const CLIENTS = fileURLToPath(new URL('./clients.py', import.meta.url));

export interface ClientTools {
  python: string;
  probe: string;
}

let tools: Promise<ClientTools> | undefined;

export function clientTools(): Promise<ClientTools> {
  const args = process.env['CI'] === 'true' ? [SETUP, '--check'] : [SETUP];
  tools ??= run('bash', args, { maxBuffer: 2 ** 20 }).then(
    ({ stdout }) => {
      const bin = stdout.trim();
      return { python: join(bin, 'python'), probe: join(bin, 'grpc-health-probe') };
    },
    (err: Error & { stderr?: string }) => {
      throw new Error(`tools/grpc-clients/setup.sh: ${err.stderr ?? err.message}`);
    },
  );
  return tools;
}

export interface GrpcRuntime {
  rt: TestRuntime;
  grpc: GrpcServer;
  /** host:port of the gRPC server. */
  addr: string;
  close(): Promise<void>;
}

export async function startGrpcRuntime(
  modelDir: string,
  overrides: Partial<ServeConfig> = {},
): Promise<GrpcRuntime> {
  const rt = await startRuntime(modelDir, overrides);
  const grpc = await GrpcServer.start({
    service: rt.service,
    metrics: rt.metrics,
    config: rt.config,
    host: '127.0.0.1',
    port: 0,
    bodies: rt.bodies,
  });
  return {
    rt,
    grpc,
    addr: `127.0.0.1:${grpc.port}`,
    async close() {
      await grpc.close(5000);
      await rt.close();
    },
  };
}

/**
 * Runs one scenario of clients.py and returns the JSON it prints;
 * `onStderr` sees its stderr lines as they come (the drain scenario says "sent").
 */
export async function runClients<T>(
  scenario: string,
  addr: string,
  args: string[] = [],
  onStderr?: (line: string) => void,
): Promise<T> {
  const { python } = await clientTools();
  return new Promise<T>((resolve, reject) => {
    const child = spawn(python, [CLIENTS, scenario, addr, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // TensorFlow's start-up chatter is not what the tests read.
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', PYTHONUNBUFFERED: '1' },
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      if (onStderr !== undefined) for (const line of chunk.split('\n')) if (line) onStderr(line);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`clients.py ${scenario} exited ${code}:\n${err.slice(-4000)}`));
        return;
      }
      try {
        resolve(JSON.parse(out) as T);
      } catch {
        reject(new Error(`clients.py ${scenario} printed no JSON:\n${out}\n${err.slice(-4000)}`));
      }
    });
  });
}

/** grpc-health-probe's exit code and output for `args` (e.g. ["-service=x"]). */
export async function probe(
  addr: string,
  args: string[] = [],
): Promise<{ code: number; output: string }> {
  const { probe: bin } = await clientTools();
  try {
    const { stdout, stderr } = await run(bin, [
      `-addr=${addr}`,
      '-connect-timeout=5s',
      '-rpc-timeout=5s',
      ...args,
    ]);
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

/** The dtypes fixture's pass-through output of each input (text's is text_bytes). */
export const outputOf = (input: string): string =>
  input === 'text' ? 'text_bytes' : `${input}_out`;
