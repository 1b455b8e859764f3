// A large ModelInfer (a 160x160 image, 100 KiB of raw_input_contents) over
// the runtime's own gRPC server: the message arrives in many DATA frames and
// is assembled in a pooled request-body buffer, placed so that the tensor's
// bytes are aligned and viewed rather than copied (transport/framing.ts). The
// answer must be the model's for the same tensor given to the service directly,
// wherever the tensor starts in the message.

import http2 from 'node:http2';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageDefinition } from '../../src/runtime/grpc/protos.js';
import { FrameReader, frameMessage } from '../../src/runtime/grpc/transport/framing.js';
import { rawContentsOffset } from '../../src/runtime/grpc/wire/model-infer.js';
import { writeCnn } from '../support/models.js';
import type { GrpcRuntime } from './grpc/harness.js';
import { startGrpcRuntime } from './grpc/harness.js';

const SIZE = 160;
let dir: string;
let runtime: GrpcRuntime;

interface Codec {
  requestSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}
const modelInfer = (
  packageDefinition()['inference.GRPCInferenceService'] as unknown as Record<string, Codec>
)['ModelInfer']!;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'grpc-large-'));
  runtime = await startGrpcRuntime(await writeCnn(join(dir, 'cnn'), { size: SIZE, channels: 1 }));
}, 120_000);

afterAll(async () => {
  await runtime.close();
  await rm(dir, { recursive: true, force: true });
});

function image(seed: number): Buffer {
  const values = Float32Array.from({ length: SIZE * SIZE }, (_, i) => ((i * 7 + seed) % 97) / 97);
  return Buffer.from(values.buffer);
}

/** The model's output for `raw` over gRPC, with `id` (its length moves the tensor in the message). */
async function viaGrpc(raw: Buffer, id: string): Promise<number[]> {
  const message = modelInfer.requestSerialize({
    model_name: 'm',
    id,
    inputs: [{ name: 'image', datatype: 'FP32', shape: ['1', String(SIZE), String(SIZE), '1'] }],
    raw_input_contents: [raw],
  });
  const session = http2.connect(`http://127.0.0.1:${runtime.grpc.port}`);
  try {
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/inference.GRPCInferenceService/ModelInfer',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const data: Buffer[] = [];
      let status: unknown;
      stream.on('data', (d: Buffer) => data.push(d));
      stream.on('trailers', (t: http2.IncomingHttpHeaders) => (status = t['grpc-status']));
      stream.on('error', reject);
      stream.on('close', () =>
        status === '0'
          ? resolve(new FrameReader(1 << 30).push(Buffer.concat(data))[0]!.data)
          : reject(new Error(`grpc-status ${String(status)}`)),
      );
      stream.end(frameMessage(message));
    });
    const res = modelInfer.responseDeserialize(answer) as { raw_output_contents: Buffer[] };
    const out = Buffer.from(res.raw_output_contents[0]!);
    return [...new Float32Array(out.buffer, out.byteOffset, out.length / 4)];
  } finally {
    session.close();
  }
}

/** The same tensor straight through the model service (what REST's /infer runs). */
async function direct(raw: Buffer): Promise<number[]> {
  const data = new Float32Array(SIZE * SIZE);
  new Uint8Array(data.buffer).set(raw);
  const { outputs } = await runtime.rt.service.infer(
    { image: { dtype: 'float32', shape: [1, SIZE, SIZE, 1], data } },
    1,
  );
  return [...(Object.values(outputs)[0]!.data as Float32Array)];
}

describe('large ModelInfer requests', () => {
  it('answer as the model does for the same tensor, wherever it starts in the message', async () => {
    for (const [seed, id] of [
      [1, ''],
      [2, 'a'],
      [3, 'ab'],
      [4, 'abc'],
    ] as const) {
      const raw = image(seed);
      const offset = rawContentsOffset(
        modelInfer.requestSerialize({
          model_name: 'm',
          id,
          inputs: [
            { name: 'image', datatype: 'FP32', shape: ['1', String(SIZE), String(SIZE), '1'] },
          ],
          raw_input_contents: [raw],
        }),
      );
      expect(offset).toBeDefined();
      const grpc = await viaGrpc(raw, id);
      const rest = await direct(raw);
      expect(grpc.length).toBe(rest.length);
      grpc.forEach((v, i) => expect(v).toBeCloseTo(rest[i]!, 5));
    }
  }, 120_000);
});
