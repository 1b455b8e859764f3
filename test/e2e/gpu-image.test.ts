/**
 * The GPU runtime image (docker/runtime-gpu.Dockerfile, built here by
 * `npm run images`) on the real node, which has no GPU: a ModelDeployment that
 * names it with `--backend tensorflow-gpu` runs it there; the runtime loads the
 * CUDA build of libtensorflow, finds no GPU, says so in its log, its backend
 * metric and its model metadata, and serves both protocols correctly on the
 * CPU. A ModelDeployment that asks for a GPU gets the operator's default GPU
 * image, which is this image's name, and is scheduled on a simulated GPU node.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cacheDir } from '../../src/localcluster/manifest.js';
import { serveDirectory, type ModelServer } from '../../src/localcluster/model-server.js';
import { readImagesManifest } from '../../src/localcluster/node/registry.js';
import {
  GPU_RESOURCE,
  KWOK_NODE_ANNOTATION,
  KWOK_NODE_ANNOTATION_VALUE,
} from '../../src/localcluster/nodes.js';
import { RUNTIME_CONTAINER } from '../../src/operator/builders/deployment.js';
import { DEFAULT_CONFIG } from '../../src/operator/config.js';
import { NO_GPU_NOTE } from '../../src/runtime/backends/select.js';
import { writeHalfPlusTwo } from '../support/models.js';
import { e2e, eventually, getJson, kubectlOk } from './context.js';
import { modelDeployment, predict, serviceUrl, waitAnswering, waitReady } from './models.js';

const GPU_IMAGE = DEFAULT_CONFIG.runtimeGpuImage;

let namespace = '';
let models: ModelServer;
let dir = '';

interface Pod {
  metadata: { name: string };
  spec: { nodeName?: string; containers: Array<{ name: string; image: string; args?: string[] }> };
  status: { podIP?: string; containerStatuses?: Array<{ name: string; imageID: string }> };
}

async function podsOf(model: string): Promise<Pod[]> {
  const list = await getJson<{ items: Pod[] }>([
    'get',
    'pods',
    '-n',
    namespace,
    '-l',
    `tensorfleet.dev/model=${model}`,
  ]);
  return list.items;
}

async function json<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as T };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-e2e-gpu-'));
  await writeHalfPlusTwo(join(dir, 'hpt', '1'));
  await chmod(dir, 0o755);
  models = await serveDirectory(dir, e2e().nodeIp);
  namespace = `gpu-image-${Date.now().toString(36)}`;
  await kubectlOk(['create', 'namespace', namespace]);
});

afterAll(async () => {
  await kubectlOk(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']);
  await models.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the GPU runtime image on a node without a GPU', () => {
  it('is the operator’s default GPU image, built here', async () => {
    const built = (await readImagesManifest(cacheDir())).images.find(
      (i) => i.name === 'tensorfleet/runtime-gpu',
    );
    expect(built).toBeDefined();
    // Every registry name resolves to the registry on loopback: the default's
    // repository path and tag are what was built and pushed.
    expect(GPU_IMAGE).toBe(`ghcr.io/${built?.name}:${built?.tag}`);
  });

  it('runs tensorflow-gpu on the CPU, says so, and serves both protocols', async () => {
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      modelDeployment(
        'hpt',
        { uri: `${models.url}hpt/1/model.json`, version: '1' },
        {
          runtime: { image: GPU_IMAGE, backend: 'tensorflow-gpu' },
          resources: { requests: { cpu: '100m', memory: '512Mi' } },
        },
      ),
    );
    // The first pull of the image (about 2 GB of layers) is part of this wait.
    const applied = Date.now();
    await waitReady(namespace, 'hpt', 420_000);
    process.stderr.write(`[e2e] GPU image: apply to Ready ${Date.now() - applied} ms\n`);
    const [pod] = await podsOf('hpt');
    expect(pod?.spec.nodeName).toBe('local-0');
    const runtime = pod?.status.containerStatuses?.find((c) => c.name === RUNTIME_CONTAINER);
    const built = (await readImagesManifest(cacheDir())).images.find(
      (i) => i.name === 'tensorfleet/runtime-gpu',
    );
    expect(runtime?.imageID).toContain(built?.digest ?? 'missing');

    // The log: the backend, its device, and why it is not the GPU.
    const logs = (
      await kubectlOk(['logs', '-n', namespace, pod?.metadata.name ?? '', '-c', RUNTIME_CONTAINER])
    )
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs.find((l) => l['msg'] === `tensorflow-gpu: ${NO_GPU_NOTE}`)).toMatchObject({
      level: 40,
      backend: 'tensorflow-gpu',
      device: 'cpu',
    });
    expect(logs.find((l) => /ready on backend/.test(String(l['msg'])))).toMatchObject({
      msg: 'model hpt version 1 ready on backend tensorflow-gpu',
      device: 'cpu',
    });

    const url = await serviceUrl(namespace, 'hpt');
    await waitAnswering(url, 'hpt');
    // TF Serving REST: row and columnar predict, status, metadata.
    expect(await predict(url, 'hpt', [1, 2, 5])).toEqual([2.5, 3, 4.5]);
    const columnar = await json<{ outputs: number[] }>(`${url}/v1/models/hpt:predict`, {
      method: 'POST',
      body: JSON.stringify({ inputs: { x: [10, -4] } }),
    });
    expect(columnar).toEqual({ status: 200, body: { outputs: [7, 0] } });
    const status = await json<{ model_version_status: Array<{ version: string; state: string }> }>(
      `${url}/v1/models/hpt`,
    );
    expect(status.body.model_version_status).toEqual([
      expect.objectContaining({ version: '1', state: 'AVAILABLE' }),
    ]);
    const meta = await json<{ metadata: { tensorfleet: Record<string, string> } }>(
      `${url}/v1/models/hpt/metadata`,
    );
    expect(meta.body.metadata.tensorfleet).toEqual({
      backend: 'tensorflow-gpu',
      tfjs_backend: 'tensorflow',
      device: 'cpu',
      format: 'tfjs-graph',
    });
    // Open Inference Protocol v2: readiness, metadata, infer.
    expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);
    const oipMeta = await json<{ parameters: Record<string, string> }>(`${url}/v2/models/hpt`);
    expect(oipMeta.body.parameters).toMatchObject({ backend: 'tensorflow-gpu', device: 'cpu' });
    const infer = await json<{ outputs: Array<{ name: string; data: number[] }> }>(
      `${url}/v2/models/hpt/infer`,
      {
        method: 'POST',
        body: JSON.stringify({
          inputs: [{ name: 'x', shape: [3], datatype: 'FP32', data: [0, 4, -2] }],
        }),
      },
    );
    expect(infer.status).toBe(200);
    expect(infer.body.outputs[0]).toMatchObject({ name: 'y', data: [2, 4, 1] });
    // A malformed tensor is a precise 400, as on every backend.
    const bad = await json<{ error: string }>(`${url}/v1/models/hpt:predict`, {
      method: 'POST',
      body: JSON.stringify({ instances: ['not a number'] }),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(
      /input "x" element \[0\] is the string "not a number"; expected a number \(DT_FLOAT\)/,
    );
    // The backend metric, from the pod itself.
    const metrics = await (await fetch(`http://${pod?.status.podIP}:8501/metrics`)).text();
    expect(metrics).toContain(
      'tensorfleet_runtime_backend_info{model="hpt",version="1",backend="tensorflow-gpu",tfjs_backend="tensorflow",device="cpu",format="tfjs-graph"} 1',
    );
  }, 600_000);

  it('a ModelDeployment that asks for a GPU gets this image and stays on the simulated GPU nodes', async () => {
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      modelDeployment(
        'on-gpu',
        { uri: `${models.url}hpt/1/model.json`, version: '1' },
        { resources: { gpu: { count: 1 }, requests: { cpu: '100m', memory: '256Mi' } } },
      ),
    );
    const pod = await eventually(
      'the GPU pod to be scheduled',
      async () => (await podsOf('on-gpu')).find((p) => p.spec.nodeName !== undefined),
      60_000,
    );
    const node = await getJson<{
      metadata: { name: string; annotations?: Record<string, string> };
      status: { allocatable: Record<string, string> };
    }>(['get', 'node', pod.spec.nodeName ?? '']);
    expect(node.metadata.name).not.toBe('local-0');
    expect(node.metadata.annotations?.[KWOK_NODE_ANNOTATION]).toBe(KWOK_NODE_ANNOTATION_VALUE);
    expect(Number(node.status.allocatable[GPU_RESOURCE])).toBeGreaterThan(0);
    const runtime = pod.spec.containers.find((c) => c.name === RUNTIME_CONTAINER);
    expect(runtime?.image).toBe(GPU_IMAGE);
  }, 120_000);
});
