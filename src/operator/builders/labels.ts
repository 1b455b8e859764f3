// Labels and names shared by every object built for a ModelDeployment.
import { createHash } from 'node:crypto';
import type { V1OwnerReference } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../api/v1alpha1/index.js';
import { API_VERSION, KIND } from '../../api/group.js';
import { stableStringify } from '../stable-stringify.js';

export const LABEL_MODEL = 'tensorfleet.dev/model';
export const LABEL_VERSION = 'tensorfleet.dev/version';
export const LABEL_TRACK = 'tensorfleet.dev/track';
export const MANAGED_BY = 'tensorfleet';
/** On each Deployment: the model uri its pods serve (the version is a label). */
export const MODEL_URI_ANNOTATION = 'tensorfleet.dev/model-uri';

export type Track = 'stable' | 'canary';

export const RUNTIME_PORT_NAME = 'http';
/** The runtime's gRPC port (TF Serving's PredictionService, the OIP's GRPCInferenceService, health). */
export const GRPC_PORT_NAME = 'grpc';

/**
 * The served version: spec.model.version, or a short hash of the uri (and of
 * what the version policy selects: a new policy rolls out like a new uri, the
 * pods then serve another set of versions).
 */
export function modelVersion(md: ModelDeployment): string {
  const { version, uri, versionPolicy } = md.spec.model;
  if (version) return version;
  const hash = createHash('sha256').update(uri);
  if (versionPolicy) {
    // What is selected, not how often it is looked for.
    const { pollIntervalSeconds: _poll, ...selection } = versionPolicy;
    hash.update(`\0${stableStringify(selection)}`);
  }
  return hash.digest('hex').slice(0, 10);
}

/** Labels on every object we own: the recommended app.kubernetes.io set plus ours. */
export function commonLabels(md: ModelDeployment): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'tensorfleet-runtime',
    'app.kubernetes.io/instance': md.metadata.name!,
    'app.kubernetes.io/component': 'model-server',
    'app.kubernetes.io/managed-by': MANAGED_BY,
    [LABEL_MODEL]: md.metadata.name!,
  };
}

/** Selects every pod of the model, all tracks and versions (Service, PDB, scale). */
export function modelSelector(md: ModelDeployment): Record<string, string> {
  return { [LABEL_MODEL]: md.metadata.name! };
}

export function selectorString(selector: Record<string, string>): string {
  return Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** Name of the Deployment of a track: the model's name, plus -canary for a canary. */
export function deploymentName(md: ModelDeployment, track: Track): string {
  return track === 'stable' ? md.metadata.name! : `${md.metadata.name!}-canary`;
}

/** Makes the ModelDeployment the controller owner, so deletes cascade and changes enqueue it. */
export function ownerReference(md: ModelDeployment): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: md.metadata.name!,
    uid: md.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function objectMeta(
  md: ModelDeployment,
  name: string,
  extraLabels: Record<string, string> = {},
) {
  return {
    name,
    namespace: md.metadata.namespace!,
    labels: { ...commonLabels(md), ...extraLabels },
    ownerReferences: [ownerReference(md)],
  };
}
