// Loading a model directory into tfjs and running it on host tensors. Runs in
// the inference workers.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TfNamespace from '@tensorflow/tfjs';
import type { Tf, BackendName } from '../backends/select.js';
import type { TfjsDtype } from '../dtypes.js';
import { tfDtypeToTfjs, tfjsToTfDtype } from '../dtypes.js';
import { RuntimeError } from '../errors.js';
import type { HostTensor, TensorMap } from '../tensors.js';
import { sizeOf } from '../tensors.js';
import type { ModelFormat } from './format.js';
import type { ModelSignature, TensorSpec } from './signature.js';
import { normalizeShape } from './signature.js';

type Tensor = TfNamespace.Tensor;
type ModelArtifacts = TfNamespace.io.ModelArtifacts;

export interface LoadedModel {
  format: ModelFormat;
  signature: ModelSignature;
  run(inputs: TensorMap): Promise<TensorMap>;
  dispose(): void;
}

interface WeightsManifestGroup {
  paths: string[];
  weights: TfNamespace.io.WeightsManifestEntry[];
}

/** Reads model.json and its weight shards from a directory (tfjs has no file:// loader without tfjs-node). */
export async function readArtifacts(dir: string): Promise<ModelArtifacts> {
  const path = join(dir, 'model.json');
  const json = JSON.parse(await readFile(path, 'utf8')) as {
    modelTopology?: object;
    format?: string;
    generatedBy?: string;
    convertedBy?: string | null;
    signature?: object;
    userDefinedMetadata?: Record<string, object>;
    modelInitializer?: object;
    weightsManifest?: WeightsManifestGroup[];
  };
  const specs: TfNamespace.io.WeightsManifestEntry[] = [];
  const shards: Buffer[] = [];
  for (const group of json.weightsManifest ?? []) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      try {
        shards.push(await readFile(join(dir, p)));
      } catch (err) {
        throw new RuntimeError(
          'MODEL_LOAD_FAILED',
          `weight shard ${p} listed in ${path} cannot be read: ${(err as Error).message}`,
        );
      }
    }
  }
  const total = Buffer.concat(shards);
  const weightData = total.buffer.slice(total.byteOffset, total.byteOffset + total.byteLength);
  const artifacts: ModelArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs: specs,
    weightData,
  };
  if (json.format !== undefined) artifacts.format = json.format;
  if (json.generatedBy !== undefined) artifacts.generatedBy = json.generatedBy;
  if (json.convertedBy !== undefined) artifacts.convertedBy = json.convertedBy;
  if (json.signature !== undefined) artifacts.signature = json.signature;
  if (json.userDefinedMetadata !== undefined)
    artifacts.userDefinedMetadata = json.userDefinedMetadata;
  if (json.modelInitializer !== undefined) artifacts.modelInitializer = json.modelInitializer;
  return artifacts;
}

function toTensor(tf: Tf, t: HostTensor): Tensor {
  if (t.dtype === 'string') return tf.tensor(t.data, t.shape, 'string');
  if (t.dtype === 'bool') {
    // tfjs wants bool data as a Uint8Array of 0/1, which is what we carry.
    return tf.tensor(t.data, t.shape, 'bool');
  }
  return tf.tensor(t.data, t.shape, t.dtype);
}

/** Copies a tfjs tensor to host memory in a fresh buffer that can be transferred. */
async function toHost(tensor: Tensor): Promise<HostTensor> {
  const shape = tensor.shape.slice();
  const dtype = tensor.dtype as TfjsDtype;
  if (dtype === 'string') {
    const bytes = (await tensor.bytes()) as Uint8Array[];
    return { dtype, shape, data: bytes.map((b) => b.slice()) };
  }
  const values = tensor.dataSync();
  let data: Float32Array | Int32Array | Uint8Array;
  if (dtype === 'float32') data = new Float32Array(values as Float32Array);
  else if (dtype === 'int32') data = new Int32Array(values as Int32Array);
  else if (dtype === 'bool') data = Uint8Array.from(values as Uint8Array);
  else {
    throw new RuntimeError(
      'INFERENCE_FAILED',
      `model produced an unsupported dtype ${String(dtype)}`,
    );
  }
  if (data.length !== sizeOf(shape)) {
    throw new RuntimeError('INFERENCE_FAILED', 'model output size does not match its shape');
  }
  return { dtype, shape, data };
}

function ordered(signature: ModelSignature, inputs: TensorMap): HostTensor[] {
  return signature.inputs.map((s) => {
    const t = inputs[s.name];
    if (t === undefined) throw new RuntimeError('INVALID_INPUT', `missing input "${s.name}"`);
    return t;
  });
}

function layersSignature(model: TfNamespace.LayersModel, name: string): ModelSignature {
  const io = (syms: TfNamespace.SymbolicTensor[], names: string[]): TensorSpec[] =>
    syms.map((s, i) => {
      const n = names[i] ?? s.name;
      const dtype = s.dtype as TfjsDtype;
      return {
        name: n,
        tensorName: s.name,
        dtype,
        tfDtype: tfjsToTfDtype(dtype),
        shape: normalizeShape(s.shape),
      };
    });
  return {
    name,
    methodName: 'tensorflow/serving/predict',
    inputs: io(model.inputs, model.inputNames),
    outputs: io(model.outputs, model.outputNames),
  };
}

interface GraphSignature {
  inputs?: Record<string, GraphSignatureEntry>;
  outputs?: Record<string, GraphSignatureEntry>;
}

interface GraphSignatureEntry {
  name?: string;
  dtype?: string;
  tensorShape?: { dim?: { size?: string | number }[]; unknownRank?: boolean };
}

function graphSignature(
  model: TfNamespace.GraphModel,
  artifacts: ModelArtifacts,
  name: string,
): ModelSignature {
  const declared: GraphSignature | undefined = artifacts.signature;
  const fromInfo = (
    infos: TfNamespace.ModelTensorInfo[],
    sig?: Record<string, GraphSignatureEntry>,
  ): TensorSpec[] =>
    infos.map((info) => {
      const entry = sig?.[info.name];
      const tfDtype = entry?.dtype ?? tfjsToTfDtype(info.dtype);
      const dtype = tfDtypeToTfjs(tfDtype) ?? (info.dtype as TfjsDtype);
      const dims = entry?.tensorShape?.dim;
      const shape =
        dims !== undefined ? dims.map((d) => Number(d.size ?? -1)) : normalizeShape(info.shape);
      const tensorName = entry?.name ?? `${info.name}:0`;
      return {
        name: info.name,
        tensorName,
        dtype,
        tfDtype,
        shape: shape.map((d) => (d < 0 ? -1 : d)),
      };
    });
  return {
    name,
    methodName: 'tensorflow/serving/predict',
    inputs: fromInfo(model.inputs, declared?.inputs),
    outputs: fromInfo(model.outputs, declared?.outputs),
  };
}

async function loadLayers(tf: Tf, dir: string, signatureName: string): Promise<LoadedModel> {
  const artifacts = await readArtifacts(dir);
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const signature = layersSignature(model, signatureName);
  return {
    format: 'tfjs-layers',
    signature,
    async run(inputs) {
      const xs = ordered(signature, inputs).map((t) => toTensor(tf, t));
      let ys: Tensor | Tensor[] | undefined;
      try {
        ys = model.predict(xs.length === 1 ? (xs[0] as Tensor) : xs);
        const list = Array.isArray(ys) ? ys : [ys];
        const out: TensorMap = {};
        for (let i = 0; i < signature.outputs.length; i++) {
          const spec = signature.outputs[i] as TensorSpec;
          out[spec.name] = await toHost(list[i] as Tensor);
        }
        return out;
      } finally {
        tf.dispose(xs);
        if (ys !== undefined) tf.dispose(ys);
      }
    },
    dispose: () => model.dispose(),
  };
}

async function loadGraph(tf: Tf, dir: string, signatureName: string): Promise<LoadedModel> {
  const artifacts = await readArtifacts(dir);
  const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  const signature = graphSignature(model, artifacts, signatureName);
  const outputNames = signature.outputs.map((o) => o.name);
  let useAsync = false;
  return {
    format: 'tfjs-graph',
    signature,
    async run(inputs) {
      const feed: Record<string, Tensor> = {};
      for (const spec of signature.inputs) {
        const t = inputs[spec.name];
        if (t === undefined)
          throw new RuntimeError('INVALID_INPUT', `missing input "${spec.name}"`);
        feed[spec.name] = toTensor(tf, t);
      }
      let ys: Tensor | Tensor[] | undefined;
      try {
        if (!useAsync) {
          try {
            ys = model.execute(feed, outputNames);
          } catch (err) {
            // Graphs with control flow or dynamic shapes need executeAsync.
            if (!/executeAsync/.test((err as Error).message)) throw err;
            useAsync = true;
          }
        }
        if (useAsync) ys = await model.executeAsync(feed, outputNames);
        const list = Array.isArray(ys) ? ys : [ys as Tensor];
        const out: TensorMap = {};
        for (let i = 0; i < outputNames.length; i++) {
          out[outputNames[i] as string] = await toHost(list[i] as Tensor);
        }
        return out;
      } finally {
        tf.dispose(Object.values(feed));
        if (ys !== undefined) tf.dispose(ys);
      }
    },
    dispose: () => model.dispose(),
  };
}

interface NodeSavedModelApi {
  node?: {
    getMetaGraphsFromSavedModel(path: string): Promise<TfNamespace.MetaGraph[]>;
    loadSavedModel(
      path: string,
      tags?: string[],
      signature?: string,
    ): Promise<{
      predict(inputs: Record<string, Tensor>): Tensor | Tensor[] | Record<string, Tensor>;
      dispose(): void;
    }>;
  };
}

/**
 * A SavedModel signature's dimension as tfjs-node reports it: its
 * ModelTensorInfo.shape holds TensorShapeProto.Dim messages, not numbers.
 */
function dimSize(dim: unknown): number {
  if (typeof dim === 'number') return dim < 0 ? -1 : dim;
  const size = (dim as { getSize?: () => unknown }).getSize?.();
  return typeof size === 'number' && size >= 0 ? size : -1;
}

/**
 * The signature from the SavedModel's own SignatureDef: keys are the names
 * clients use ("x"), `name` the graph tensor ("serving_default_x:0"). The
 * loaded TFSavedModel's inputs/outputs give only the tensor names, which its
 * predict() does not accept.
 */
function savedModelSignature(
  metaGraphs: TfNamespace.MetaGraph[],
  dir: string,
  signatureName: string,
): ModelSignature {
  const graph = metaGraphs.find((g) => g.tags.length === 1 && g.tags[0] === 'serve');
  if (graph === undefined) {
    const tags = metaGraphs.map((g) => `[${g.tags.join(', ')}]`).join(', ');
    throw new RuntimeError(
      'MODEL_LOAD_FAILED',
      `SavedModel in ${dir} has no MetaGraph tagged "serve" (it has ${tags || 'none'})`,
    );
  }
  const entry = graph.signatureDefs[signatureName];
  if (entry === undefined) {
    throw new RuntimeError(
      'MODEL_LOAD_FAILED',
      `SavedModel in ${dir} has no signature "${signatureName}" (it has ${Object.keys(graph.signatureDefs).join(', ')})`,
    );
  }
  const specs = (infos: Record<string, TfNamespace.ModelTensorInfo>): TensorSpec[] =>
    Object.entries(infos).map(([key, info]) => ({
      name: key,
      tensorName: info.name,
      dtype: info.dtype as TfjsDtype,
      tfDtype: info.tfDtype ?? tfjsToTfDtype(info.dtype),
      shape: (info.shape ?? []).map(dimSize),
    }));
  return {
    name: signatureName,
    methodName: 'tensorflow/serving/predict',
    inputs: specs(entry.inputs),
    outputs: specs(entry.outputs),
  };
}

async function loadSavedModel(
  tf: Tf,
  backend: BackendName,
  dir: string,
  signatureName: string,
): Promise<LoadedModel> {
  const api = (tf as unknown as NodeSavedModelApi).node;
  if ((backend !== 'tensorflow' && backend !== 'tensorflow-gpu') || api === undefined) {
    throw new RuntimeError(
      'FORMAT_REQUIRES_BACKEND',
      `a TF SavedModel needs the tensorflow or tensorflow-gpu backend (@tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu); this runtime is using ${backend}. Convert the model with tensorflowjs_converter or use an image with tfjs-node.`,
    );
  }
  const signature = savedModelSignature(
    await api.getMetaGraphsFromSavedModel(dir),
    dir,
    signatureName,
  );
  const model = await api.loadSavedModel(dir, ['serve'], signatureName);
  return {
    format: 'tf-saved-model',
    signature,
    async run(inputs) {
      const feed: Record<string, Tensor> = {};
      for (const s of signature.inputs) {
        const t = inputs[s.name];
        if (t === undefined) throw new RuntimeError('INVALID_INPUT', `missing input "${s.name}"`);
        feed[s.name] = toTensor(tf, t);
      }
      let result: ReturnType<typeof model.predict> | undefined;
      try {
        result = model.predict(feed);
        const out: TensorMap = {};
        if (result instanceof tf.Tensor) {
          out[signature.outputs[0]?.name ?? 'output_0'] = await toHost(result);
        } else if (Array.isArray(result)) {
          for (let i = 0; i < result.length; i++) {
            out[signature.outputs[i]?.name ?? `output_${i}`] = await toHost(result[i] as Tensor);
          }
        } else {
          for (const [k, v] of Object.entries(result)) out[k] = await toHost(v);
        }
        return out;
      } finally {
        tf.dispose(Object.values(feed));
        if (result !== undefined) {
          tf.dispose(
            result instanceof tf.Tensor || Array.isArray(result) ? result : Object.values(result),
          );
        }
      }
    },
    dispose: () => model.dispose(),
  };
}

export async function loadModel(
  tf: Tf,
  backend: BackendName,
  dir: string,
  format: ModelFormat,
  signatureName: string,
): Promise<LoadedModel> {
  try {
    switch (format) {
      case 'tfjs-layers':
        return await loadLayers(tf, dir, signatureName);
      case 'tfjs-graph':
        return await loadGraph(tf, dir, signatureName);
      case 'tf-saved-model':
        return await loadSavedModel(tf, backend, dir, signatureName);
    }
  } catch (err) {
    if (err instanceof RuntimeError) throw err;
    throw new RuntimeError(
      'MODEL_LOAD_FAILED',
      `loading ${format} model from ${dir} failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Zero-filled inputs of batch 1 (unknown dims as 1) for warmup inferences. */
export function warmupInputs(signature: ModelSignature): TensorMap {
  const out: TensorMap = {};
  for (const s of signature.inputs) {
    const shape = s.shape.map((d) => (d < 0 ? 1 : d));
    const n = sizeOf(shape);
    let data: HostTensor['data'];
    if (s.dtype === 'string') data = Array.from({ length: n }, () => new Uint8Array(0));
    else if (s.dtype === 'float32') data = new Float32Array(n);
    else if (s.dtype === 'int32') data = new Int32Array(n);
    else data = new Uint8Array(n);
    out[s.name] = { dtype: s.dtype, shape, data };
  }
  return out;
}
