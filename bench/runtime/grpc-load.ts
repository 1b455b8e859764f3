// Served throughput over gRPC: the Open Inference Protocol's ModelInfer with
// the tensor in raw_input_contents (what tritonclient sends), `concurrency`
// calls always in flight, spread over BENCH_GRPC_CHANNELS channels (each its
// own HTTP/2 connection; default 1, as one client holds one). Closed loop,
// like autocannon for REST: a call is sent as one is answered.

import type { Client, ServiceError } from '@grpc/grpc-js';
import { credentials, loadPackageDefinition } from '@grpc/grpc-js';
import type { ModelSignature } from '../../src/runtime/models/signature.js';
import { packageDefinition } from '../../src/runtime/grpc/protos.js';
import { percentile } from '../../test/support/load.js';
import { cpuBetween, sampleCpu } from './cpu.js';
import type { ServedResult } from './served.js';

type Unary = (request: unknown, callback: (err: ServiceError | null) => void) => void;
type InferenceClient = Client & { ModelInfer: Unary };

const root = loadPackageDefinition(packageDefinition()) as unknown as {
  inference: {
    GRPCInferenceService: new (
      address: string,
      creds: ReturnType<typeof credentials.createInsecure>,
      options: Record<string, number>,
    ) => InferenceClient;
  };
};

/** The request the REST binary run sends, as a ModelInferRequest. */
export function inferRequest(
  sig: ModelSignature,
  model: string,
  body: Buffer,
  headerLength: number,
): unknown {
  const input = sig.inputs[0]!;
  const dims = [1, ...input.shape.slice(1).map((d) => (d < 0 ? 1 : d))];
  return {
    model_name: model,
    inputs: [{ name: input.name, datatype: 'FP32', shape: dims.map(String) }],
    outputs: [{ name: sig.outputs[0]?.name }],
    raw_input_contents: [body.subarray(headerLength)],
  };
}

async function run(
  clients: InferenceClient[],
  request: unknown,
  concurrency: number,
  seconds: number,
): Promise<{ ok: number; errors: number; latenciesMs: number[]; elapsedS: number }> {
  const latenciesMs: number[] = [];
  let ok = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const loop = async (_: unknown, i: number): Promise<void> => {
    const client = clients[i % clients.length]!;
    while (performance.now() < end) {
      const sent = performance.now();
      const failed = await new Promise<boolean>((resolve) =>
        client.ModelInfer(request, (err) => resolve(err !== null)),
      );
      if (failed) errors++;
      else {
        ok++;
        latenciesMs.push(performance.now() - sent);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { ok, errors, latenciesMs, elapsedS: (performance.now() - start) / 1000 };
}

/** A 1 s warm-up at the same concurrency, then the measured run. */
export async function loadGrpc(
  server: { grpcPort: number; pid: number | undefined },
  request: unknown,
  concurrency: number,
  seconds: number,
): Promise<ServedResult> {
  const channels = Math.max(1, Number(process.env['BENCH_GRPC_CHANNELS'] ?? 1));
  const clients = Array.from(
    { length: Math.min(channels, concurrency) },
    () =>
      new root.inference.GRPCInferenceService(
        `127.0.0.1:${server.grpcPort}`,
        credentials.createInsecure(),
        // Room for large answers; a channel of its own, not a shared subchannel.
        {
          'grpc.max_receive_message_length': 64 * 1024 * 1024,
          'grpc.use_local_subchannel_pool': 1,
        },
      ),
  );
  try {
    await run(clients, request, concurrency, 1);
    const before = sampleCpu(server.pid);
    const r = await run(clients, request, concurrency, seconds);
    const cpu = cpuBetween(before, sampleCpu(server.pid));
    return {
      concurrency,
      requestsPerSecond: r.ok / r.elapsedS,
      p50Ms: Number(percentile(r.latenciesMs, 50).toFixed(1)),
      p99Ms: Number(percentile(r.latenciesMs, 99).toFixed(1)),
      errors: r.errors,
      cpu,
    };
  } finally {
    for (const client of clients) client.close();
  }
}
