/**
 * A model served for real: a ModelDeployment whose model comes over HTTP is
 * downloaded by the init container, loaded by the runtime in a pod on the real
 * node, Ready only once it serves, and answers through its Service from the
 * host and from another pod with the values the model computes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { writeHalfPlusTwo } from '../../src/runtime/testing/models.js';
import { e2e, eventually, getJson, kubectlOk } from './context.js';
import { serveDirectory, type ModelServer } from '../../src/localcluster/model-server.js';
import { modelDeployment, predict, serviceUrl, waitReady } from './models.js';

let namespace = '';
let models: ModelServer;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-e2e-models-'));
  await writeHalfPlusTwo(join(dir, 'hpt', '1'));
  models = await serveDirectory(dir, e2e().nodeIp);
  namespace = `serving-${Date.now().toString(36)}`;
  await kubectlOk(['create', 'namespace', namespace]);
});

afterAll(async () => {
  await kubectlOk(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']);
  await models.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a model from an HTTP server', () => {
  it('is downloaded, loaded, Ready, and answers through its Service from the host and from a pod', async () => {
    const applied = Date.now();
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      modelDeployment('hpt', { uri: `${models.url}hpt/1/model.json`, version: '1' }),
    );
    await waitReady(namespace, 'hpt');
    const url = await serviceUrl(namespace, 'hpt');
    // Ready follows the pods; kube-proxy programs the Service's endpoint a
    // moment later (the EndpointSlice controller, then its own sync).
    const readyAt = Date.now();
    const first = await eventually(
      'the Service to route to the Ready pod',
      () => predict(url, 'hpt', [1, 2, 5]),
      10_000,
    );
    expect(first).toEqual([2.5, 3, 4.5]);
    process.stderr.write(`[e2e] Ready to the Service answering: ${Date.now() - readyAt} ms\n`);
    process.stderr.write(`[e2e] apply to first correct prediction: ${Date.now() - applied} ms\n`);

    // The pod ran on the real node, its init container fetched the model.
    const pods = await getJson<{
      items: Array<{
        spec: { nodeName: string; initContainers?: Array<{ name: string }> };
        status: {
          podIP: string;
          initContainerStatuses?: Array<{ state: { terminated?: { exitCode: number } } }>;
        };
      }>;
    }>(['get', 'pods', '-n', namespace, '-l', 'tensorfleet.dev/model=hpt']);
    expect(pods.items).toHaveLength(1);
    const [pod] = pods.items;
    expect(pod?.spec.nodeName).toBe('local-0');
    expect(pod?.status.podIP).toMatch(/^10\.244\.0\./);
    expect(pod?.status.initContainerStatuses?.[0]?.state.terminated?.exitCode).toBe(0);

    // Another pod calls the same Service by its ClusterIP (pods have no DNS here).
    const client = 'client';
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: client },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'client',
              image: 'ghcr.io/tensorfleet/runtime:0.1.0',
              command: ['node', '-e'],
              args: [
                `fetch(${JSON.stringify(`${url}/v1/models/hpt:predict`)}, {method: 'POST', body: JSON.stringify({instances: [10, -4]})}).then(r => r.text()).then(t => console.log(t))`,
              ],
            },
          ],
        },
      }),
    );
    const phase = await eventually(
      'the client pod to finish',
      async () => {
        const p = await getJson<{ status: { phase?: string } }>([
          'get',
          'pod',
          '-n',
          namespace,
          client,
        ]);
        return p.status.phase === 'Succeeded' || p.status.phase === 'Failed'
          ? p.status.phase
          : undefined;
      },
      120_000,
    );
    const logs = await kubectlOk(['logs', '-n', namespace, client]);
    expect(phase, logs).toBe('Succeeded');
    expect(JSON.parse(logs)).toEqual({ predictions: [7, 0] });
  });
});
