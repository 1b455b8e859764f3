// tensorflow_model_server re-reading --model_config_file every
// --model_config_file_poll_wait_seconds, as TF Serving does. The pure part
// (what changed) is checked directly; the rest on a runtime process on
// loopback over real version directories: a model added is served, a label
// and a policy changed apply, a broken file keeps the running config (its
// parser message logged, the reload gauge at 0), a model removed finishes
// the request it admitted and then answers MODEL_NOT_FOUND.

import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planModelChanges } from '../../src/runtime/model-config-reload.js';
import type { VersionedModel } from '../../src/runtime/server.js';
import { writeHalfPlusTwo } from '../support/models.js';
import { testBackend } from './native.js';
import type { RuntimeProcess } from './process.js';
import { startCommand, waitReady } from './process.js';

const model = (name: string, extra: Partial<VersionedModel> = {}): VersionedModel => ({
  name,
  basePath: `/models/${name}`,
  policy: { kind: 'latest', count: 1 },
  labels: {},
  pollSeconds: 1,
  ...extra,
});

describe('planModelChanges', () => {
  it('adds new names, removes missing ones, and changes nothing for the same config', () => {
    const a = model('a');
    expect(planModelChanges([a], [a])).toEqual({ add: [], remove: [], refollow: [], relabel: [] });
    expect(planModelChanges([a], [a, model('b')])).toMatchObject({ add: [model('b')], remove: [] });
    expect(planModelChanges([a, model('b')], [model('b')])).toMatchObject({
      add: [],
      remove: ['a'],
    });
  });

  it('follows anew on another policy or poll interval, relabels on other labels', () => {
    const a = model('a');
    const all = model('a', { policy: { kind: 'all' } });
    expect(planModelChanges([a], [all])).toMatchObject({ refollow: [all], relabel: [] });
    const slow = model('a', { pollSeconds: 30 });
    expect(planModelChanges([a], [slow])).toMatchObject({ refollow: [slow] });
    const labelled = model('a', { labels: { stable: 1 } });
    expect(planModelChanges([a], [labelled])).toMatchObject({ refollow: [], relabel: [labelled] });
  });

  it('serves another base path under the same name as a new model', () => {
    const moved = model('a', { basePath: '/elsewhere' });
    expect(planModelChanges([model('a')], [moved])).toEqual({
      add: [moved],
      remove: ['a'],
      refollow: [],
      relabel: [],
    });
  });
});

let root = '';
let server: (RuntimeProcess & { configPath: string }) | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Version v of a model under `base`: half_plus_two answering 0.5 x + v. */
async function addVersion(base: string, v: number): Promise<void> {
  const staging = join(base, `.staging-${v}`);
  await writeHalfPlusTwo(staging, v);
  await rename(staging, join(base, String(v)));
}

const entry = (name: string, inner = '') =>
  `config { name: "${name}" base_path: "${join(root, name)}" model_platform: "tensorflow" ${inner} }`;

/** Writes the config file whole (a rename: the runtime never reads half a file). */
async function writeConfig(text: string): Promise<void> {
  const tmp = `${server!.configPath}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, server!.configPath);
}

async function predict(
  path: string,
  x = 2,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${server!.port}/v1/models/${path}:predict`, {
    method: 'POST',
    body: JSON.stringify({ instances: [x] }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

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

const answers = (path: string, prediction: number) => async () =>
  (await predict(path)).body['predictions']?.toString() === String(prediction);

async function reloadGauge(): Promise<string | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${server!.port}/metrics`)).text();
  return /^tensorfleet_runtime_model_config_last_reload_successful (\S+)$/m.exec(text)?.[1];
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tensorfleet-reload-'));
  for (const v of [1, 2]) await addVersion(join(root, 'a'), v);
  await addVersion(join(root, 'b'), 7);
  const configPath = join(root, 'models.config');
  await writeFile(configPath, `model_config_list { ${entry('a')} }`);
  const [grpcPort, restPort] = [await freePort(), await freePort()];
  const p = await startCommand(
    [
      'tensorflow_model_server',
      `--port=${grpcPort}`,
      `--rest_api_port=${restPort}`,
      `--model_config_file=${configPath}`,
      '--model_config_file_poll_wait_seconds=1',
    ],
    {
      TENSORFLEET_HOST: '127.0.0.1',
      TENSORFLEET_BACKEND: testBackend(),
      TENSORFLEET_WORKERS: '1',
      TENSORFLEET_DECODE_WORKERS: '0',
      // Slow enough that a request is still running when its model is removed.
      TENSORFLEET_INJECT_LATENCY_MS: '300',
    },
  );
  server = { ...p, configPath };
  await waitReady(p.port);
});

afterAll(async () => {
  if (server !== undefined) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  await rm(root, { recursive: true, force: true });
});

describe(
  'tensorflow_model_server --model_config_file_poll_wait_seconds',
  { timeout: 120_000 },
  () => {
    it('serves a model added to the file, and applies changed labels and policies', async () => {
      expect((await predict('a')).body).toEqual({ predictions: [3] });
      expect((await predict('b')).status).toBe(404);

      await writeConfig(
        `model_config_list { ${entry('a', 'version_labels { key: "stable" value: 2 }')} ${entry('b')} }`,
      );
      await until('model b served', answers('b', 8));
      await until('label stable on a', answers('a/labels/stable', 3));
      // a serves only version 2 (latest 1): the label names 2.

      await writeConfig(
        `model_config_list { ${entry('a', 'model_version_policy { all {} } version_labels { key: "stable" value: 1 }')} ${entry('b')} }`,
      );
      await until('version 1 of a loaded again (policy all)', answers('a/versions/1', 2));
      await until('label stable moved to 1', answers('a/labels/stable', 2));
      expect((await predict('a/versions/2')).body).toEqual({ predictions: [3] });
      expect(await reloadGauge()).toBe('1');
    });

    it('keeps the running config when the file breaks, with the parser message, and recovers', async () => {
      await writeConfig(`model_config_list { ${entry('a')} config { name: "c" `);
      await until('the reload gauge at 0', async () => (await reloadGauge()) === '0');
      const logged = server!.logs.find((l) =>
        String(l['msg']).includes('keeping the running model config'),
      );
      expect(String(logged?.['msg'])).toMatch(
        new RegExp(
          `--model_config_file=${server!.configPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} line 1, column \\d+: `,
        ),
      );
      // Still the config before: both models, policy all on a.
      expect((await predict('a/versions/1')).body).toEqual({ predictions: [2] });
      expect((await predict('b')).body).toEqual({ predictions: [8] });
      // A missing file too.
      await rm(server!.configPath);
      await until('a missing file logged', () =>
        server!.logs.some((l) => String(l['msg']).includes('cannot read the file')),
      );
      expect((await predict('b')).body).toEqual({ predictions: [8] });
      expect((await fetch(`http://127.0.0.1:${server!.port}/v2/health/ready`)).status).toBe(200);
    });

    it('unloads a removed model once the requests it admitted are answered: none fails', async () => {
      // Four clients call b back to back (300 ms a request) while the file drops it.
      const statuses: number[] = [];
      const client = async () => {
        for (;;) {
          const r = await predict('b');
          statuses.push(r.status);
          if (r.status !== 200) return;
          expect(r.body).toEqual({ predictions: [8] });
        }
      };
      const clients = Promise.all([client(), client(), client(), client()]);
      await new Promise((r) => setTimeout(r, 500));
      await writeConfig(`model_config_list { ${entry('a', 'model_version_policy { all {} }')} }`);
      await clients;
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(4);
      expect(new Set(statuses)).toEqual(new Set([200, 404]));
      const gone = await fetch(`http://127.0.0.1:${server!.port}/v1/models/b`);
      expect(gone.headers.get('tensorfleet-error-code')).toBe('MODEL_NOT_FOUND');
      await until('b unloaded', () =>
        server!.logs.some(
          (l) => l['msg'] === 'model b: version 7 unloaded' && l['drained'] === true,
        ),
      );
      expect(await reloadGauge()).toBe('1');
      expect((await predict('a/versions/1')).body).toEqual({ predictions: [2] });
    });
  },
);
