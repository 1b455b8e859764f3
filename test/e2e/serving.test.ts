/**
 * A model served for real: a ModelDeployment whose model comes over HTTP is
 * downloaded by the init container, loaded by the runtime in a pod on the real
 * node, Ready only once it serves, and answers through its Service from the
 * host and from another pod with the values the model computes. The same from
 * S3 (moto, as the runtime's tests use it, with keys from a Secret) and from a
 * PersistentVolumeClaim mounted read-only.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { writeHalfPlusTwo } from '../support/models.js';
import { e2e, eventually, getJson, kubectlOk } from './context.js';
import { serveDirectory, type ModelServer } from '../../src/localcluster/model-server.js';
import { modelDeployment, predict, serviceUrl, waitReady } from './models.js';
import { startS3, type S3Server } from '../runtime/s3-server.js';

let namespace = '';
let models: ModelServer;
let dir = '';
let s3: S3Server | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-e2e-models-'));
  await writeHalfPlusTwo(join(dir, 'hpt', '1'));
  await writeHalfPlusTwo(join(dir, 'hpt', '3'), 3);
  // The PVC's files are read by the runtime's user (1000): the tree must be readable to it.
  await chmod(dir, 0o755);
  models = await serveDirectory(dir, e2e().nodeIp);
  namespace = `serving-${Date.now().toString(36)}`;
  await kubectlOk(['create', 'namespace', namespace]);
});

afterAll(async () => {
  await kubectlOk(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']);
  await kubectlOk(['delete', 'pv', `${namespace}-models`, '--wait=false', '--ignore-not-found']);
  await s3?.stop();
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

describe('a model from other sources', () => {
  it('from S3, with the endpoint and keys from the credentials Secret', async () => {
    // Signatures unchecked: moto rejects even botocore's signature of a ListObjectsV2
    // whose prefix holds a "/" (SignatureDoesNotMatch), so its auth mode cannot serve
    // a model directory. The keys still travel Secret -> envFrom -> init container.
    s3 = await startS3({
      auth: false,
      bucket: 'models',
      prefix: 'hpt/1/',
      modelDir: join(dir, 'hpt', '1'),
      host: e2e().nodeIp,
    });
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 's3-keys' },
        stringData: {
          AWS_ACCESS_KEY_ID: s3.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
          AWS_ENDPOINT_URL: s3.endpoint,
        },
      }),
    );
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      modelDeployment(
        'from-s3',
        { uri: 's3://models/hpt/1/', version: '1' },
        { model: { uri: 's3://models/hpt/1/', version: '1', credentialsSecret: 's3-keys' } },
      ),
    );
    await waitReady(namespace, 'from-s3');
    const url = await serviceUrl(namespace, 'from-s3');
    expect(
      await eventually('the Service to answer', () => predict(url, 'from-s3', [1, 2, 5]), 10_000),
    ).toEqual([2.5, 3, 4.5]);
  });

  it('from a PersistentVolumeClaim, mounted read-only with no download', async () => {
    const claim = 'models';
    await kubectlOk(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `${namespace}-models` },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadOnlyMany'],
          storageClassName: '',
          hostPath: { path: dir, type: 'Directory' },
          claimRef: { namespace, name: claim },
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [
                    { key: 'kubernetes.io/hostname', operator: 'In', values: ['local-0'] },
                  ],
                },
              ],
            },
          },
        },
      }),
    );
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: claim },
        spec: {
          accessModes: ['ReadOnlyMany'],
          storageClassName: '',
          volumeName: `${namespace}-models`,
          resources: { requests: { storage: '1Gi' } },
        },
      }),
    );
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      modelDeployment('from-pvc', { uri: `pvc://${claim}/hpt/3`, version: '3' }),
    );
    await waitReady(namespace, 'from-pvc');
    const url = await serviceUrl(namespace, 'from-pvc');
    expect(
      await eventually('the Service to answer', () => predict(url, 'from-pvc', [1, 2, 5]), 10_000),
    ).toEqual([3.5, 4, 5.5]);
    const pods = await getJson<{
      items: Array<{ spec: { nodeName: string; initContainers?: unknown[] } }>;
    }>(['get', 'pods', '-n', namespace, '-l', 'tensorfleet.dev/model=from-pvc']);
    expect(pods.items[0]?.spec.nodeName).toBe('local-0');
    // Served in place from the claim: no init container downloads anything.
    expect(pods.items[0]?.spec.initContainers ?? []).toEqual([]);
  });
});
