// The Open Inference Protocol's gRPC API (KServe v2, Triton):
// inference.GRPCInferenceService. Requests reach the same model service and
// batcher as REST's /v2/.../infer.

import { RuntimeError, invalidInput } from '../errors.js';
import type { TensorSpec } from '../models/signature.js';
import { encodeRaw } from '../codec/binary-tensor.js';
import { classify } from '../codec/classification.js';
import { tracked, versionFor } from '../admission.js';
import type { ServedModels } from '../served-models.js';
import { oipDatatype } from '../codec/oip.js';
import { inputSpec, validateInputs } from '../codec/validate.js';
import type { ModelService } from '../service.js';
import type { TensorMap } from '../tensors.js';
import { RUNTIME_VERSION } from '../version.js';
import type { CallContext } from './calls.js';
import type { ServiceImplementation } from './transport/server.js';
import { timeLeftMs, unary } from './calls.js';
import { inputFromMessage, intParameter } from './infer-tensors.js';
import type {
  InferOutputTensor,
  ModelInferRequest,
  ModelInferResponse,
} from './wire/model-infer.js';

interface ModelRef {
  name?: string;
  version?: string;
}

/** Triton's classification extension works over gRPC too (tritonclient's class_count). */
export const GRPC_EXTENSIONS = ['classification'];

/** The version a call names; an empty version means the default one, as in the protocol. */
function check(
  models: ServedModels,
  call: object,
  name: string | undefined,
  version: string | undefined,
): ModelService {
  return versionFor(
    models,
    call,
    name ?? '',
    version === undefined || version === '' ? undefined : { version },
  );
}

function platformOf(format: string): string {
  const kind =
    format === 'tfjs-layers' ? 'layers' : format === 'tfjs-graph' ? 'graph' : 'savedmodel';
  return `tensorflowjs_${kind}`;
}

function tensorMetadata(s: TensorSpec): { name: string; datatype: string; shape: string[] } {
  return { name: s.name, datatype: oipDatatype(s), shape: s.shape.map(String) };
}

interface RequestedOutput {
  spec: TensorSpec;
  classification: number | undefined;
}

function requestedOutputs(
  outputs: readonly TensorSpec[],
  requested: ModelInferRequest['outputs'],
): RequestedOutput[] {
  if (requested === undefined || requested.length === 0)
    return outputs.map((spec) => ({ spec, classification: undefined }));
  return requested.map((r, i) => {
    const name = r.name ?? '';
    const spec = outputs.find((o) => o.name === name);
    if (spec === undefined) {
      throw invalidInput(
        `outputs[${i}]: unknown output "${name}"; the model's outputs are ${outputs.map((o) => `"${o.name}"`).join(', ')}`,
      );
    }
    const classification = intParameter(r.parameters, 'classification', `output "${name}"`);
    if (classification !== undefined && spec.dtype === 'string')
      throw invalidInput(`output "${name}" holds BYTES; classification needs numbers`);
    return { spec, classification };
  });
}

function infer(
  models: ServedModels,
  call: object,
  request: ModelInferRequest,
  /** The time left before the call's deadline, read once the request is decoded. */
  timeLeft: () => number | undefined,
): Promise<ModelInferResponse> {
  const service = check(models, call, request.model_name, request.model_version);
  return tracked(service, () => inferOn(service, request, timeLeft));
}

async function inferOn(
  service: ModelService,
  request: ModelInferRequest,
  timeLeft: () => number | undefined,
): Promise<ModelInferResponse> {
  const info = service.servingModel();
  const sig = info.signature;
  const list = request.inputs ?? [];
  if (list.length === 0) throw invalidInput('the request has no inputs');
  const raw = request.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== list.length) {
    throw invalidInput(
      `the request has ${list.length} inputs but ${raw.length} raw_input_contents; with raw contents, every input has one, in order`,
    );
  }
  const inputs: TensorMap = {};
  list.forEach((msg, i) => {
    const name = msg.name ?? '';
    if (name in inputs) throw invalidInput(`input "${name}" appears more than once`);
    const contents = raw.length > 0 ? raw[i] : undefined;
    // Contents in a request body's own buffer (a large message the transport
    // placed there, aligned) may be viewed rather than copied.
    const inPlace = contents !== undefined && service.isRequestBody(contents);
    inputs[name] = inputFromMessage(msg, inputSpec(sig, name), contents, inPlace);
  });
  const rows = validateInputs(sig, inputs);
  const wanted = requestedOutputs(sig.outputs, request.outputs);
  const timeoutUs = intParameter(request.parameters, 'timeout', 'request');
  const timeouts = [timeLeft(), timeoutUs === undefined ? undefined : timeoutUs / 1000].filter(
    (t): t is number => t !== undefined,
  );
  const result = await service.infer(
    inputs,
    rows,
    timeouts.length === 0 ? undefined : Math.min(...timeouts),
  );
  const outputs: InferOutputTensor[] = [];
  const contents: Buffer[] = [];
  for (const { spec, classification } of wanted) {
    const produced = result.outputs[spec.name];
    if (produced === undefined)
      throw new RuntimeError('INTERNAL', `the model did not produce "${spec.name}"`);
    const t = classification === undefined ? produced : classify(produced, classification);
    const datatype = classification === undefined ? oipDatatype(spec) : 'BYTES';
    outputs.push({ name: spec.name, datatype, shape: t.shape });
    contents.push(encodeRaw(t, datatype));
  }
  return {
    model_name: info.name,
    model_version: info.version,
    id: request.id ?? '',
    outputs,
    raw_output_contents: contents,
  };
}

export function inferenceService(ctx: CallContext): ServiceImplementation {
  const { models } = ctx;
  return {
    ServerLive: unary(ctx, false, () => ({ live: true })),
    ServerReady: unary(ctx, false, () => ({ ready: models.ready })),
    ModelReady: unary<ModelRef, object>(ctx, false, (request, call) => {
      const service = check(models, call, request.name, request.version);
      return { ready: service.state === 'ready' };
    }),
    ServerMetadata: unary(ctx, false, () => ({
      name: 'tensorfleet-runtime',
      version: RUNTIME_VERSION,
      extensions: GRPC_EXTENSIONS,
    })),
    ModelMetadata: unary<ModelRef, object>(ctx, false, (request, call) => {
      const info = check(models, call, request.name, request.version).loadedModel();
      return {
        name: info.name,
        versions: models.model(info.name).availableVersions(),
        platform: platformOf(info.format),
        inputs: info.signature.inputs.map(tensorMetadata),
        outputs: info.signature.outputs.map(tensorMetadata),
      };
    }),
    ModelInfer: unary<ModelInferRequest, ModelInferResponse>(ctx, true, (request, call) =>
      infer(models, call, request, () => timeLeftMs(call)),
    ),
  };
}
