/**
 * gRPC through the operator's objects on the real node: a ModelDeployment with
 * `runtime.grpc.probes` turns Ready on the kubelet's own gRPC probe (the
 * runtime's grpc.health.v1 service), its Service carries port grpc 8500 with
 * appProtocol grpc, and TF Serving's Predict and the OIP's ModelInfer answer
 * through that port (kube-proxy, h2c) with the values the model computes.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Client, ServiceError } from '@grpc/grpc-js';
import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { serveDirectory, type ModelServer } from '../../src/localcluster/model-server.js';
import { packageDefinition } from '../../src/runtime/grpc/protos.js';
import { writeHalfPlusTwo } from '../support/models.js';
import { e2e, eventually, getJson, kubectlOk } from './context.js';
import { modelDeployment, waitReady } from './models.js';

type Unary = (
  request: unknown,
  callback: (err: ServiceError | null, value?: unknown) => void,
) => void;
type ClientOf = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
) => Client & Record<string, Unary>;

/** Client constructors from the vendored .proto files (untyped, as proto-loader leaves them). */
const root = loadPackageDefinition(packageDefinition()) as unknown as {
  tensorflow: { serving: { PredictionService: ClientOf } };
  inference: { GRPCInferenceService: ClientOf };
};

function call(client: Client & Record<string, Unary>, method: string, request: unknown) {
  return new Promise<unknown>((resolve, reject) =>
    client[method]!(request, (err, value) => (err ? reject(err) : resolve(value))),
  );
}

/** FP32 values from raw little-endian bytes (copied: a Buffer may sit unaligned in its pool). */
const littleEndianFloats = (bytes: Uint8Array): number[] =>
  Array.from(new Float32Array(Uint8Array.from(bytes).buffer));

/** A DT_FLOAT TensorProto's values, in whichever encoding the server chose. */
const floats = (t: { float_val?: number[]; tensor_content?: Uint8Array }): number[] =>
  t.float_val !== undefined && t.float_val.length > 0
    ? t.float_val
    : littleEndianFloats(t.tensor_content ?? new Uint8Array());

let namespace = '';
let models: ModelServer;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tensorfleet-e2e-grpc-'));
  await writeHalfPlusTwo(join(dir, 'hpt', '1'));
  await chmod(dir, 0o755);
  models = await serveDirectory(dir, e2e().nodeIp);
  namespace = `grpc-${Date.now().toString(36)}`;
  await kubectlOk(['create', 'namespace', namespace]);
});

afterAll(async () => {
  await kubectlOk(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']);
  await models.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a model served over gRPC', () => {
  it('is Ready on the kubelet’s gRPC probe and answers Predict and ModelInfer through its Service', async () => {
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      modelDeployment(
        'hpt',
        { uri: `${models.url}hpt/1/model.json`, version: '1' },
        { runtime: { grpc: { probes: true } } },
      ),
    );
    await waitReady(namespace, 'hpt');

    const pods = await getJson<{
      items: Array<{
        spec: { containers: Array<{ name: string; readinessProbe?: { grpc?: { port: number } } }> };
        status: { containerStatuses?: Array<{ ready: boolean }> };
      }>;
    }>(['get', 'pods', '-n', namespace, '-l', 'tensorfleet.dev/model=hpt']);
    expect(pods.items).toHaveLength(1);
    expect(pods.items[0]?.spec.containers[0]?.readinessProbe?.grpc).toEqual({
      port: 8500,
      service: '',
    });
    expect(pods.items[0]?.status.containerStatuses?.[0]?.ready).toBe(true);

    const service = await getJson<{
      spec: {
        clusterIP: string;
        ports: Array<{ name: string; port: number; appProtocol?: string }>;
      };
    }>(['get', 'service', '-n', namespace, 'hpt']);
    const grpcPort = service.spec.ports.find((p) => p.name === 'grpc');
    expect(grpcPort).toMatchObject({ port: 8500, appProtocol: 'grpc' });
    const address = `${service.spec.clusterIP}:${grpcPort!.port}`;

    const prediction = new root.tensorflow.serving.PredictionService(
      address,
      credentials.createInsecure(),
    );
    const inference = new root.inference.GRPCInferenceService(
      address,
      credentials.createInsecure(),
    );
    try {
      // kube-proxy programs the Service's rules a moment after Ready.
      const predicted = (await eventually(
        'Predict through the Service',
        () =>
          call(prediction, 'Predict', {
            model_spec: { name: 'hpt' },
            inputs: {
              x: {
                dtype: 'DT_FLOAT',
                tensor_shape: { dim: [{ size: '3' }] },
                float_val: [1, 2, 5],
              },
            },
          }),
        10_000,
      )) as { outputs: Record<string, { float_val?: number[]; tensor_content?: Buffer }> };
      expect(floats(predicted.outputs['y']!)).toEqual([2.5, 3, 4.5]);

      const inferred = (await call(inference, 'ModelInfer', {
        model_name: 'hpt',
        inputs: [
          { name: 'x', datatype: 'FP32', shape: ['2'], contents: { fp32_contents: [0, 4] } },
        ],
      })) as { outputs: Array<{ name: string }>; raw_output_contents: Buffer[] };
      expect(inferred.outputs.map((o) => o.name)).toEqual(['y']);
      expect(littleEndianFloats(inferred.raw_output_contents[0]!)).toEqual([2, 4]);
    } finally {
      prediction.close();
      inference.close();
    }
  });
});
