// Desired PodDisruptionBudget: with more than one replica, node drains take
// at most one serving pod at a time. A single replica gets none (a PDB would
// block every drain).
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { ModelDeployment } from '../../api/v1alpha1/index.js';
import { modelSelector, objectMeta } from './labels.js';

export type PodDisruptionBudgetObject = V1PodDisruptionBudget & {
  apiVersion: 'policy/v1';
  kind: 'PodDisruptionBudget';
  metadata: { name: string; namespace: string };
};

export function buildPodDisruptionBudget(
  md: ModelDeployment,
): PodDisruptionBudgetObject | undefined {
  if (md.spec.replicas <= 1) return undefined;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: objectMeta(md, md.metadata.name!),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: modelSelector(md) },
      // A pod that never became ready must not block a drain.
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
}
