// TF Serving's gRPC API: tensorflow.serving.PredictionService (Predict,
// GetModelMetadata; Classify, Regress and MultiInference answer UNIMPLEMENTED)
// and tensorflow.serving.ModelService (GetModelStatus). Requests reach the
// same model service and batcher as REST's :predict.

import { RuntimeError, invalidInput } from '../errors.js';
import type { ModelSignature, TensorSpec } from '../models/signature.js';
import { tracked, versionFor } from '../admission.js';
import type { VersionRef } from '../model-versions.js';
import type { ServedModels } from '../served-models.js';
import { inputSpec, validateInputs } from '../codec/validate.js';
import type { ModelService } from '../service.js';
import type { TensorMap } from '../tensors.js';
import type { CallContext } from './calls.js';
import type { ServiceImplementation } from './transport/server.js';
import { timeLeftMs, unary, unimplemented } from './calls.js';
import type { TensorProtoMessage, TensorShapeMessage } from './tensor-proto.js';
import { shapeToProto, tensorFromProto, tensorToProto } from './tensor-proto.js';

export interface ModelSpecMessage {
  name?: string;
  version?: { value?: string | number } | null;
  version_label?: string;
  version_choice?: 'version' | 'version_label';
  signature_name?: string;
}

interface PredictRequest {
  model_spec?: ModelSpecMessage | null;
  inputs?: Record<string, TensorProtoMessage>;
  output_filter?: string[];
}

interface PredictResponse {
  model_spec: ModelSpecMessage;
  outputs: Record<string, TensorProtoMessage>;
}

interface GetModelMetadataRequest {
  model_spec?: ModelSpecMessage | null;
  metadata_field?: string[];
}

/** ModelSpecRequest, and all that Classify and Regress read of theirs before refusing. */
interface ModelSpecRequest {
  model_spec?: ModelSpecMessage | null;
}

interface TensorInfoMessage {
  name: string;
  dtype: string;
  tensor_shape: TensorShapeMessage;
}

/** The one metadata field TF Serving defines. */
const SIGNATURE_DEF = 'signature_def';
/** A google.protobuf.Any holding this message; protobufjs packs an object with "@type". */
const SIGNATURE_DEF_MAP_TYPE = 'type.googleapis.com/tensorflow.serving.SignatureDefMap';

/** The ModelSpec's name and version or label, as on REST. */
function specRef(spec: ModelSpecMessage | null | undefined): { name: string; ref: VersionRef } {
  if (spec === undefined || spec === null) throw invalidInput('the request has no model_spec');
  const ref: VersionRef =
    spec.version_choice === 'version'
      ? { version: String(spec.version?.value ?? 0) }
      : spec.version_choice === 'version_label'
        ? { label: spec.version_label ?? '' }
        : undefined;
  return { name: spec.name ?? '', ref };
}

/** The version the ModelSpec names (or the default one), for the call. */
function checkSpec(
  models: ServedModels,
  call: object,
  spec: ModelSpecMessage | null | undefined,
): ModelService {
  const { name, ref } = specRef(spec);
  return versionFor(models, call, name, ref);
}

function checkSignature(sig: ModelSignature, spec: ModelSpecMessage): void {
  const name = spec.signature_name ?? '';
  if (name !== '' && name !== sig.name) {
    throw new RuntimeError(
      'SIGNATURE_NOT_FOUND',
      `serving signature "${name}" not found; this model serves "${sig.name}"`,
    );
  }
}

/** The ModelSpec answers carry: the served version when it is a number (the field is an int64). */
function answerSpec(service: ModelService, signatureName: string): ModelSpecMessage {
  const { modelName, modelVersion } = service.config;
  return {
    name: modelName,
    ...(/^\d+$/.test(modelVersion) ? { version: { value: modelVersion } } : {}),
    signature_name: signatureName,
  };
}

function outputsOf(sig: ModelSignature, filter: readonly string[]): TensorSpec[] {
  if (filter.length === 0) return sig.outputs;
  return filter.map((name) => {
    const spec = sig.outputs.find((o) => o.name === name);
    if (spec === undefined) {
      throw invalidInput(
        `output_filter names unknown output "${name}"; the model's outputs are ${sig.outputs.map((o) => `"${o.name}"`).join(', ')}`,
      );
    }
    return spec;
  });
}

function predict(
  ctx: CallContext,
  call: object,
  request: PredictRequest,
  /** The time left before the call's deadline, read once the request is decoded. */
  timeLeft: () => number | undefined,
): Promise<PredictResponse> {
  const service = checkSpec(ctx.models, call, request.model_spec);
  return tracked(service, () => predictOn(service, request, timeLeft, ctx.predictEncoding));
}

async function predictOn(
  service: ModelService,
  request: PredictRequest,
  timeLeft: () => number | undefined,
  encoding: CallContext['predictEncoding'],
): Promise<PredictResponse> {
  const spec = request.model_spec;
  const sig = service.servingModel().signature;
  checkSignature(sig, spec ?? {});
  const inputs: TensorMap = {};
  for (const [name, proto] of Object.entries(request.inputs ?? {}))
    inputs[name] = tensorFromProto(name, proto, inputSpec(sig, name));
  const rows = validateInputs(sig, inputs);
  const wanted = outputsOf(sig, request.output_filter ?? []);
  const result = await service.infer(inputs, rows, timeLeft());
  const outputs: Record<string, TensorProtoMessage> = {};
  for (const o of wanted) {
    const t = result.outputs[o.name];
    if (t === undefined)
      throw new RuntimeError('INTERNAL', `the model did not produce "${o.name}"`);
    outputs[o.name] = tensorToProto(t, o.tfDtype, encoding);
  }
  return { model_spec: answerSpec(service, sig.name), outputs };
}

function tensorInfo(s: TensorSpec): TensorInfoMessage {
  return { name: s.tensorName, dtype: s.tfDtype, tensor_shape: shapeToProto(s.shape) };
}

function metadata(models: ServedModels, call: object, request: GetModelMetadataRequest): object {
  const service = checkSpec(models, call, request.model_spec);
  const fields = request.metadata_field ?? [];
  if (fields.length === 0) {
    throw invalidInput(
      `GetModelMetadataRequest must name at least one metadata_field ("${SIGNATURE_DEF}")`,
    );
  }
  const other = fields.find((f) => f !== SIGNATURE_DEF);
  if (other !== undefined)
    throw invalidInput(`metadata_field "${other}" is not supported; use "${SIGNATURE_DEF}"`);
  const sig = service.loadedModel().signature;
  const entries = (list: TensorSpec[]): Record<string, TensorInfoMessage> =>
    Object.fromEntries(list.map((s) => [s.name, tensorInfo(s)]));
  return {
    model_spec: answerSpec(service, ''),
    metadata: {
      [SIGNATURE_DEF]: {
        '@type': SIGNATURE_DEF_MAP_TYPE,
        signature_def: {
          [sig.name]: {
            inputs: entries(sig.inputs),
            outputs: entries(sig.outputs),
            method_name: sig.methodName,
          },
        },
      },
    },
  };
}

/** TF Serving's ModelVersionStatus for each version (REST's status endpoint says the same). */
function versionStatuses(
  models: ServedModels,
  spec: ModelSpecMessage | null | undefined,
): object[] {
  const { name, ref } = specRef(spec);
  return models.statuses(name, ref).map((s) => ({
    version: /^\d+$/.test(s.version) ? s.version : '0',
    state: s.state,
    status: { error_code: s.errorCode, error_message: s.errorMessage },
  }));
}

const NEEDS_EXAMPLES =
  'it needs tf.Example parsing signatures, which TF.js models do not have; use Predict';

export function predictionService(ctx: CallContext): ServiceImplementation {
  const { models } = ctx;
  return {
    Predict: unary<PredictRequest, PredictResponse>(ctx, true, (request, call) =>
      predict(ctx, call, request, () => timeLeftMs(call)),
    ),
    GetModelMetadata: unary<GetModelMetadataRequest, object>(ctx, false, (request, call) =>
      metadata(models, call, request),
    ),
    Classify: unary<ModelSpecRequest, never>(ctx, true, (request, call) => {
      checkSpec(models, call, request.model_spec);
      throw new RuntimeError('NOT_IMPLEMENTED', `Classify is not supported: ${NEEDS_EXAMPLES}`);
    }),
    Regress: unary<ModelSpecRequest, never>(ctx, true, (request, call) => {
      checkSpec(models, call, request.model_spec);
      throw new RuntimeError('NOT_IMPLEMENTED', `Regress is not supported: ${NEEDS_EXAMPLES}`);
    }),
    MultiInference: unimplemented(ctx, `MultiInference is not supported: ${NEEDS_EXAMPLES}`),
  };
}

export function modelService(ctx: CallContext): ServiceImplementation {
  const { models } = ctx;
  return {
    GetModelStatus: unary<ModelSpecRequest, object>(ctx, false, (request) => ({
      model_version_status: versionStatuses(models, request.model_spec),
    })),
    HandleReloadConfigRequest: unimplemented(
      ctx,
      'HandleReloadConfigRequest is not supported: the runtime serves the models it was started with (their versions follow their base paths)',
    ),
  };
}
