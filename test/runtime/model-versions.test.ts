// `tensorfleet-runtime tensorflow_model_server` as TF Serving's users start
// it, on loopback, over real version directories on disk: the default
// version and explicit ones, policies and labels, a new version dropped in
// under continuous load (no request fails, answers switch), an old version
// removed while its requests run (unloaded only once they finished), and bad
// input. Versions are half_plus_two with a different "plus" each, so an
// answer says which version computed it: version v answers 0.5 x + v.

import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Client, ServiceError } from '@grpc/grpc-js';
import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { packageDefinition } from '../../src/runtime/grpc/protos.js';
import { writeHalfPlusTwo } from '../support/models.js';
import { nativeSkipReason, nativeStatus, testBackend } from './native.js';
import type { RuntimeProcess } from './process.js';
import { runCli, startCommand, startProcess, waitReady } from './process.js';

let root: string;
const running: RuntimeProcess[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tensorfleet-versions-'));
});

afterEach(async () => {
  for (const p of running.splice(0)) {
    p.child.kill('SIGTERM');
    await p.exited;
  }
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A port free now on loopback (TF Serving's flags take ports, not 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Writes version `v` under `base` as half_plus_two answering 0.5 x + v, renamed in whole. */
async function addVersion(base: string, v: number): Promise<void> {
  const staging = join(base, `.staging-${v}`);
  await writeHalfPlusTwo(staging, v);
  await rename(staging, join(base, String(v)));
}

async function basePath(name: string, versions: readonly number[]): Promise<string> {
  const base = join(root, name);
  for (const v of versions) await addVersion(base, v);
  return base;
}

/** Environment for what TF Serving has no flag for: loopback, the test backend, one worker. */
const ENV = {
  TENSORFLEET_HOST: '127.0.0.1',
  TENSORFLEET_BACKEND: testBackend(),
  TENSORFLEET_WORKERS: '1',
  TENSORFLEET_DECODE_WORKERS: '0',
};

async function modelServer(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<RuntimeProcess & { grpcPort: number }> {
  const [grpcPort, restPort] = [await freePort(), await freePort()];
  const p = await startCommand(
    ['tensorflow_model_server', `--port=${grpcPort}`, `--rest_api_port=${restPort}`, ...args],
    { ...ENV, ...env },
  );
  running.push(p);
  return { ...p, grpcPort };
}

async function predict(
  port: number,
  path: string,
  instances: number[],
): Promise<{ status: number; body: { predictions?: number[]; error?: string } }> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/models/${path}:predict`, {
    method: 'POST',
    body: JSON.stringify({ instances }),
  });
  return { status: res.status, body: (await res.json()) as { predictions?: number[] } };
}

interface VersionStatusBody {
  model_version_status: { version: string; state: string }[];
}

async function status(port: number, model: string): Promise<VersionStatusBody> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/models/${model}`);
  expect(res.status).toBe(200);
  return (await res.json()) as VersionStatusBody;
}

type Unary = (
  request: unknown,
  callback: (err: ServiceError | null, value?: unknown) => void,
) => void;
type ClientConstructor = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
) => Client & Record<string, Unary>;

/** TF Serving's gRPC services (untyped, as proto-loader leaves them). */
const grpcRoot = loadPackageDefinition(packageDefinition()) as unknown as {
  tensorflow: {
    serving: { ModelService: ClientConstructor; PredictionService: ClientConstructor };
  };
};

function grpcCall(
  client: Record<string, Unary>,
  method: string,
  request: unknown,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    client[method]?.(request, (err, value) => (err === null ? resolve(value) : reject(err)));
  });
}

const states = (body: VersionStatusBody): Record<string, string> =>
  Object.fromEntries(body.model_version_status.map((s) => [s.version, s.state]));

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// Each test starts a runtime process and loads models: longer than the default timeout.
describe('tensorflow_model_server over version directories', { timeout: 60_000 }, () => {
  it('serves the latest version by default and only it (latest 1)', async () => {
    const base = await basePath('latest', [1, 2]);
    const p = await modelServer([
      '--model_name=my_model',
      `--model_base_path=${base}`,
      // Accepted without effect: said in the startup log.
      '--rest_api_num_threads=8',
    ]);
    await waitReady(p.port);
    expect(p.logs.find((l) => l['notice'] === true)?.['msg']).toMatch(/rest_api_num_threads/);
    expect(await predict(p.port, 'my_model', [2])).toEqual({
      status: 200,
      body: { predictions: [3] },
    });
    expect(await predict(p.port, 'my_model/versions/2', [2])).toMatchObject({
      body: { predictions: [3] },
    });
    const one = await predict(p.port, 'my_model/versions/1', [2]);
    expect(one.status).toBe(404);
    expect(one.body.error).toMatch(/no version "1" loaded; available versions: 2/);
    expect(states(await status(p.port, 'my_model'))).toEqual({ '2': 'AVAILABLE' });
    // SIGTERM drains as with serve: readiness false, then a clean exit.
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.logs.some((l) => l['msg'] === 'drained')).toBe(true);
  });

  it('serves every version with policy all, and labels from the config file', async () => {
    const base = await basePath('all', [1, 2]);
    const file = join(root, 'all.config');
    await writeFile(
      file,
      `model_config_list {
        config {
          name: "my_model"
          base_path: "${base}"
          model_platform: "tensorflow"
          model_version_policy { all {} }
          version_labels { key: "stable" value: 1 }
          version_labels { key: "canary" value: 2 }
        }
      }`,
    );
    const p = await modelServer([`--model_config_file=${file}`]);
    await waitReady(p.port);
    await until('both versions available', async () => {
      const s = states(await status(p.port, 'my_model'));
      return s['1'] === 'AVAILABLE' && s['2'] === 'AVAILABLE';
    });
    const body = await status(p.port, 'my_model');
    expect(body.model_version_status.map((s) => s.version)).toEqual(['2', '1']);
    expect((await predict(p.port, 'my_model', [4])).body.predictions).toEqual([4]);
    expect((await predict(p.port, 'my_model/versions/1', [4])).body.predictions).toEqual([3]);
    expect((await predict(p.port, 'my_model/labels/stable', [4])).body.predictions).toEqual([3]);
    expect((await predict(p.port, 'my_model/labels/canary', [4])).body.predictions).toEqual([4]);
    const unknown = await predict(p.port, 'my_model/labels/beta', [4]);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/no label "beta"; its labels are stable, canary/);
    // One version's status, and the OIP's view of the same versions.
    const one = await fetch(`http://127.0.0.1:${p.port}/v1/models/my_model/versions/1`);
    expect(states((await one.json()) as VersionStatusBody)).toEqual({ '1': 'AVAILABLE' });
    const meta = await fetch(`http://127.0.0.1:${p.port}/v2/models/my_model`);
    expect(((await meta.json()) as { versions: string[] }).versions).toEqual(['1', '2']);
    const infer = await fetch(`http://127.0.0.1:${p.port}/v2/models/my_model/versions/1/infer`, {
      method: 'POST',
      body: JSON.stringify({
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [4] }],
      }),
    });
    expect(await infer.json()).toMatchObject({ model_version: '1', outputs: [{ data: [3] }] });
    // gRPC: GetModelStatus lists both; Predict by label and by number.
    const addr = `127.0.0.1:${p.grpcPort}`;
    const models = new grpcRoot.tensorflow.serving.ModelService(addr, credentials.createInsecure());
    const predictions = new grpcRoot.tensorflow.serving.PredictionService(
      addr,
      credentials.createInsecure(),
    );
    try {
      expect(
        await grpcCall(models, 'GetModelStatus', { model_spec: { name: 'my_model' } }),
      ).toMatchObject({
        model_version_status: [
          { version: '2', state: 'AVAILABLE' },
          { version: '1', state: 'AVAILABLE' },
        ],
      });
      const x = { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: 1 }] }, float_val: [4] };
      const byLabel = await grpcCall(predictions, 'Predict', {
        model_spec: { name: 'my_model', version_label: 'stable' },
        inputs: { x },
      });
      expect(byLabel).toMatchObject({
        model_spec: { version: { value: '1' } },
        outputs: { y: { float_val: [3] } },
      });
      const byNumber = await grpcCall(predictions, 'Predict', {
        model_spec: { name: 'my_model', version: { value: 2 } },
        inputs: { x },
      });
      expect(byNumber).toMatchObject({ outputs: { y: { float_val: [4] } } });
    } finally {
      models.close();
      predictions.close();
    }
  });

  it('switches to a version dropped in under load without failing a request', async () => {
    const base = await basePath('switch', [1, 2]);
    const p = await modelServer(['--model_name=my_model', `--model_base_path=${base}`]);
    await waitReady(p.port);
    let sent = 0;
    let answered = 0;
    const failures: string[] = [];
    const seen: number[] = [];
    let stop = false;
    const client = async (): Promise<void> => {
      while (!stop) {
        sent++;
        try {
          const r = await predict(p.port, 'my_model', [0]);
          if (r.status !== 200) failures.push(`${r.status} ${JSON.stringify(r.body)}`);
          else seen.push(r.body.predictions?.[0] ?? NaN);
          answered++;
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const clients = Array.from({ length: 16 }, client);
    await new Promise((r) => setTimeout(r, 1500));
    await addVersion(base, 3);
    await until('version 3 to answer', () => seen.at(-1) === 3);
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(answered).toBe(sent);
    expect(sent).toBeGreaterThan(100);
    // Version 2 until version 3 was warm, then version 3 only.
    const first3 = seen.indexOf(3);
    expect(first3).toBeGreaterThan(0);
    expect(new Set(seen.slice(0, first3))).toEqual(new Set([2]));
    expect(seen.slice(-50).every((v) => v === 3)).toBe(true);
    expect(states(await status(p.port, 'my_model'))).toEqual({ '3': 'AVAILABLE', '2': 'END' });
  });

  it('unloads a version removed from disk only once its requests finished', async () => {
    const base = await basePath('remove', [1, 2]);
    // Every inference takes 300 ms, so requests are in flight when version 2 goes.
    const p = await modelServer(['--model_name=my_model', `--model_base_path=${base}`], {
      TENSORFLEET_INJECT_LATENCY_MS: '300',
    });
    await waitReady(p.port);
    // Clients asking for version 2 by number until it is gone: each answer is
    // version 2's, or VERSION_NOT_FOUND once it left routing; nothing else.
    const answers: { status: number; prediction: number | undefined }[] = [];
    const client = async (): Promise<void> => {
      for (;;) {
        const r = await predict(p.port, 'my_model/versions/2', [2]);
        answers.push({ status: r.status, prediction: r.body.predictions?.[0] });
        if (r.status !== 200) return;
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await new Promise((r) => setTimeout(r, 700));
    // latest 1 now selects version 1: it loads, then version 2 leaves.
    await rm(join(base, '2'), { recursive: true });
    await Promise.all(clients);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(4);
    for (const a of answers) {
      expect(a.status === 200 ? a.prediction : a.status).toBe(a.status === 200 ? 3 : 404);
    }
    await until('version 2 unloaded', () =>
      p.logs.some((l) => l['msg'] === 'model my_model: version 2 unloaded'),
    );
    const unloading = p.logs.find(
      (l) => l['msg'] === 'model my_model: unloading version 2 once its requests finish',
    );
    // Requests were running on version 2 when it left routing, and were waited for.
    expect(Number(unloading?.['inflight'])).toBeGreaterThan(0);
    expect(p.logs.find((l) => l['msg'] === 'model my_model: version 2 unloaded')).toMatchObject({
      drained: true,
    });
    expect((await predict(p.port, 'my_model', [2])).body.predictions).toEqual([3 - 1]);
    expect(states(await status(p.port, 'my_model'))).toEqual({ '1': 'AVAILABLE', '2': 'END' });
  });
});

const native = nativeStatus();

describe.skipIf(nativeSkipReason(native) !== undefined)(
  'tensorflow_model_server over SavedModels written by TensorFlow',
  { timeout: 120_000 },
  () => {
    it("serves the workflow's saved_model versions on the tensorflow backend, as TensorFlow computes", async () => {
      if (!native.available) throw new Error(native.reason);
      // half_plus_two as TensorFlow saved it (tools/native/saved_models.py), in two version directories.
      const saved = native.manifest.savedModels;
      const expected = (
        JSON.parse(await readFile(join(saved, 'expected.json'), 'utf8')) as {
          half_plus_two: { inputs: { x: { data: number[] } }; outputs: { y: { data: number[] } } };
        }
      ).half_plus_two;
      const base = join(root, 'saved_model');
      for (const v of ['1', '2'])
        await cp(join(saved, 'half_plus_two'), join(base, v), { recursive: true });
      const file = join(root, 'saved_model.config');
      await writeFile(
        file,
        `model_config_list { config { name: "half_plus_two" base_path: "${base}" model_platform: "tensorflow" model_version_policy { all {} } } }`,
      );
      for (const args of [
        ['--model_name=half_plus_two', `--model_base_path=${base}`],
        [`--model_config_file=${file}`],
      ]) {
        const p = await modelServer(args, { TENSORFLEET_BACKEND: 'tensorflow' });
        await waitReady(p.port, 90_000);
        const all = args[0]!.startsWith('--model_config_file');
        await until('the versions available', async () => {
          const s = states(await status(p.port, 'half_plus_two'));
          return s['2'] === 'AVAILABLE' && (!all || s['1'] === 'AVAILABLE');
        });
        expect(Object.keys(states(await status(p.port, 'half_plus_two'))).sort()).toEqual(
          all ? ['1', '2'] : ['2'],
        );
        const x = expected.inputs.x.data;
        expect((await predict(p.port, 'half_plus_two', x)).body.predictions).toEqual(
          expected.outputs.y.data,
        );
        const meta = await fetch(`http://127.0.0.1:${p.port}/v2/models/half_plus_two`);
        expect(await meta.json()).toMatchObject({ platform: 'tensorflowjs_savedmodel' });
        const addr = `127.0.0.1:${p.grpcPort}`;
        const predictions = new grpcRoot.tensorflow.serving.PredictionService(
          addr,
          credentials.createInsecure(),
        );
        try {
          const request = {
            model_spec: { name: 'half_plus_two', ...(all ? { version: { value: 1 } } : {}) },
            inputs: {
              x: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: x.length }] }, float_val: x },
            },
          };
          expect(await grpcCall(predictions, 'Predict', request)).toMatchObject({
            model_spec: { name: 'half_plus_two', version: { value: all ? '1' : '2' } },
            outputs: { y: { float_val: expected.outputs.y.data } },
          });
        } finally {
          predictions.close();
        }
        p.child.kill('SIGTERM');
        await p.exited;
      }
    });
  },
);

describe('tensorflow_model_server with several models', { timeout: 60_000 }, () => {
  it('serves each model of a config file from its own base path, with its own policy', async () => {
    const a = await basePath('multi-a', [1, 2]);
    const b = await basePath('multi-b', [10, 20]);
    const file = join(root, 'multi.config');
    await writeFile(
      file,
      `model_config_list {
        config { name: "a" base_path: "${a}" model_platform: "tensorflow" }
        config { name: "b" base_path: "${b}" model_platform: "tensorflow"
                 model_version_policy { all {} } }
      }`,
    );
    const p = await modelServer([`--model_config_file=${file}`]);
    // Ready once every model has a version available.
    await waitReady(p.port);
    expect((await predict(p.port, 'a', [2])).body.predictions).toEqual([3]);
    expect((await predict(p.port, 'b', [2])).body.predictions).toEqual([21]);
    await until('both versions of b', async () => {
      const s = states(await status(p.port, 'b'));
      return s['10'] === 'AVAILABLE' && s['20'] === 'AVAILABLE';
    });
    expect((await predict(p.port, 'b/versions/10', [2])).body.predictions).toEqual([11]);
    expect(states(await status(p.port, 'a'))).toEqual({ '2': 'AVAILABLE' });
    const other = await predict(p.port, 'c', [2]);
    expect(other.status).toBe(404);
    expect(other.body.error).toBe('model "c" is not served here; this runtime serves "a", "b"');
    const metrics = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
    expect(metrics).toContain('tensorfleet_runtime_ready{model="a",version="2"} 1');
    expect(metrics).toContain('tensorfleet_runtime_ready{model="b",version="10"} 1');
    expect(metrics).toContain(
      'tensorfleet_runtime_requests_total{model="b",version="20",protocol="tfserving",code="200"} 1',
    );
  });
});

describe('serve --model-base-path', { timeout: 60_000 }, () => {
  it('serves the versions its policy selects, with the runtime flags', async () => {
    const base = await basePath('serve', [1, 2, 3]);
    const p = await startProcess([
      '--model-name',
      'my_model',
      '--model-base-path',
      base,
      '--model-version-policy',
      'specific:1,3',
      '--backend',
      testBackend(),
      '--workers',
      '1',
    ]);
    running.push(p);
    await waitReady(p.port);
    await until('both versions available', async () => {
      const s = states(await status(p.port, 'my_model'));
      return s['1'] === 'AVAILABLE' && s['3'] === 'AVAILABLE';
    });
    expect(states(await status(p.port, 'my_model'))).toEqual({
      '1': 'AVAILABLE',
      '3': 'AVAILABLE',
    });
    expect((await predict(p.port, 'my_model', [2])).body.predictions).toEqual([4]);
    expect((await predict(p.port, 'my_model/versions/1', [2])).body.predictions).toEqual([2]);
    expect((await predict(p.port, 'my_model/versions/2', [2])).status).toBe(404);
    // The states /v1/models lists, as the operator reads them from /metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
    const stateLines = metrics
      .split('\n')
      .filter((l) => l.startsWith('tensorfleet_runtime_model_version_state{'));
    expect(stateLines.sort()).toEqual([
      'tensorfleet_runtime_model_version_state{model="my_model",version="1",state="AVAILABLE",error_code="OK"} 1',
      'tensorfleet_runtime_model_version_state{model="my_model",version="3",state="AVAILABLE",error_code="OK"} 1',
    ]);
  });
});

describe('tensorflow_model_server refuses bad input', { timeout: 60_000 }, () => {
  it('answers --help and --version whatever else is given', async () => {
    const help = await runCli(['tensorflow_model_server', '--port=1', '--help'], ENV);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--model_base_path \(string\): supported/);
    const version = await runCli(['tensorflow_model_server', '--version'], ENV);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^TensorFlow ModelServer: tensorfleet-runtime /);
  });

  it('exits 2 on an unknown flag, naming it', async () => {
    const out = await runCli(
      ['tensorflow_model_server', '--model_name=m', '--no_such_flag=1'],
      ENV,
    );
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/CONFIG_INVALID: .*no_such_flag/);
  });

  it('stays unready with NO_MODEL_VERSIONS over a base path without versions, then serves the first', async () => {
    const base = join(root, 'empty');
    await mkdir(base);
    const p = await modelServer(['--model_name=my_model', `--model_base_path=${base}`]);
    await until('the watcher to report', () =>
      p.logs.some((l) => l['code'] === 'NO_MODEL_VERSIONS'),
    );
    const ready = await fetch(`http://127.0.0.1:${p.port}/v2/health/ready`);
    expect(ready.status).toBe(400);
    const res = await fetch(`http://127.0.0.1:${p.port}/v1/models/my_model`);
    expect(res.status).toBe(404);
    expect(res.headers.get('tensorfleet-error-code')).toBe('NO_MODEL_VERSIONS');
    expect(((await res.json()) as { error: string }).error).toMatch(
      /no version directories under .*empty/,
    );
    const infer = await predict(p.port, 'my_model', [2]);
    expect(infer.status).toBe(503);
    expect(infer.body.error).toMatch(/no version loaded: NO_MODEL_VERSIONS/);
    await addVersion(base, 5);
    await waitReady(p.port);
    expect((await predict(p.port, 'my_model', [2])).body.predictions).toEqual([6]);
  });
});
