/**
 * Status from real failures, as a user reads them in `kubectl get md`: an
 * image the registry does not have, a runtime that exits at start, a corrupt
 * model, a pod no node can take. Each is reported in the Ready condition with
 * the reason and the words of whoever failed (kubelet, runtime, scheduler).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { writeHalfPlusTwo } from '../support/models.js';
import { e2e, eventually, kubectlOk } from './context.js';
import { serveDirectory, type ModelServer } from '../../src/localcluster/model-server.js';
import { condition, modelDeployment, modelStatus } from './models.js';

let namespace = '';
let models: ModelServer;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-e2e-models-'));
  await writeHalfPlusTwo(join(dir, 'good', '1'));
  // Valid JSON and weights, but a graph that names an op no backend has.
  const corrupt = join(dir, 'corrupt', '1');
  await mkdir(corrupt, { recursive: true });
  const good = JSON.parse(await readFile(join(dir, 'good', '1', 'model.json'), 'utf8')) as {
    modelTopology: { node: Array<{ op: string }> };
  };
  for (const node of good.modelTopology.node) if (node.op === 'AddV2') node.op = 'NoSuchOp';
  await writeFile(join(corrupt, 'model.json'), JSON.stringify(good));
  for (const file of ['group1-shard1of1.bin']) {
    await writeFile(join(corrupt, file), await readFile(join(dir, 'good', '1', file)));
  }
  models = await serveDirectory(dir, e2e().nodeIp);
  namespace = `failures-${Date.now().toString(36)}`;
  await kubectlOk(['create', 'namespace', namespace]);
});

afterAll(async () => {
  await kubectlOk(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']);
  await models.close();
  await rm(dir, { recursive: true, force: true });
});

async function notReadyBecause(name: string, reason: string): Promise<string> {
  return eventually(
    `${name} to be not Ready because ${reason}`,
    async () => {
      const ready = condition(await modelStatus(namespace, name), 'Ready');
      return ready?.status === 'False' && ready.reason === reason
        ? (ready.message ?? '')
        : undefined;
    },
    180_000,
  );
}

describe('status from real failures', () => {
  it('ImagePullBackOff: a tag the local registry does not have, asked of it and of nothing else', async () => {
    const good = () => ({ uri: `${models.url}good/1/model.json`, version: '1' });
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      modelDeployment('no-such-tag', good(), {
        runtime: { image: 'ghcr.io/tensorfleet/runtime:no-such-tag' },
      }),
    );
    const message = await notReadyBecause('no-such-tag', 'ImagePullBackOff');
    expect(message).toContain('ghcr.io/tensorfleet/runtime:no-such-tag');
    // A name that exists nowhere, under the default registry: pulled from ours, and refused there.
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      modelDeployment('nowhere', good(), { runtime: { image: 'exists-nowhere/image:1' } }),
    );
    await notReadyBecause('nowhere', 'ImagePullBackOff');
    const registryLog = await readFile(join(e2e().dir, 'logs', 'registry.log'), 'utf8');
    expect(registryLog).toContain('/v2/tensorfleet/runtime/manifests/no-such-tag');
    expect(registryLog).toContain('/v2/exists-nowhere/image/manifests/1');
  });

  it('CrashLoopBackOff: a runtime that exits at start, with its own message', async () => {
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      modelDeployment(
        'crashing',
        { uri: `${models.url}good/1/model.json`, version: '1' },
        { runtime: { env: [{ name: 'TENSORFLEET_WORKERS', value: 'many' }] } },
      ),
    );
    const message = await notReadyBecause('crashing', 'CrashLoopBackOff');
    expect(message).toMatch(/workers/i);
  });

  it('ModelLoadFailed: a corrupt model, in the runtime’s words', async () => {
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      modelDeployment('corrupt', { uri: `${models.url}corrupt/1/model.json`, version: '1' }),
    );
    const message = await notReadyBecause('corrupt', 'ModelLoadFailed');
    expect(message).toContain('MODEL_LOAD_FAILED');
    expect(message).toContain('NoSuchOp');
  });

  it('Unschedulable: more CPU than any node has, in the scheduler’s words', async () => {
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      modelDeployment(
        'too-big',
        { uri: `${models.url}good/1/model.json`, version: '1' },
        { resources: { requests: { cpu: '500', memory: '256Mi' } } },
      ),
    );
    const message = await notReadyBecause('too-big', 'Unschedulable');
    expect(message).toContain('Insufficient cpu');
  });
});
