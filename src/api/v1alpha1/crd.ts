// The CustomResourceDefinition, built from the one schema source. Pure: the
// generator writes it to crds/, tests and the control plane read it from here.
import {
  API_VERSION,
  CATEGORIES,
  CRD_NAME,
  GROUP,
  KIND,
  LIST_KIND,
  PLURAL,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
} from '../group.js';
import { toOpenAPI } from '../schema-builder.js';
import { DNS_LABEL, MODEL_NAME_MAX_LENGTH, ModelDeploymentSpec } from './spec.js';
import { ModelDeploymentStatus } from './status.js';

export function openAPISchema(): Record<string, unknown> {
  return {
    type: 'object',
    description:
      'ModelDeployment serves a TensorFlow model on GPU (or CPU) pods with the Tensorfleet runtime: TF Serving REST and Open Inference Protocol v2, dynamic batching, rollouts, autoscaling and Prometheus monitoring.',
    required: ['spec'],
    properties: {
      apiVersion: {
        type: 'string',
        description: `APIVersion of the object: ${API_VERSION}.`,
      },
      kind: { type: 'string', description: `Kind of the object: ${KIND}.` },
      metadata: { type: 'object' },
      spec: toOpenAPI(ModelDeploymentSpec),
      status: toOpenAPI(ModelDeploymentStatus),
    },
    'x-kubernetes-validations': [
      {
        rule: `self.metadata.name.size() <= ${MODEL_NAME_MAX_LENGTH} && self.metadata.name.matches('${DNS_LABEL}') && self.metadata.name.matches('^[a-z]')`,
        message: `metadata.name must be a DNS-1035 label (lowercase letters, digits, '-', starting with a letter) of at most ${MODEL_NAME_MAX_LENGTH} characters: it names the Service and the Deployments`,
      },
    ],
  };
}

export function customResourceDefinition(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/part-of': 'tensorfleet' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        listKind: LIST_KIND,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [...SHORT_NAMES],
        categories: [...CATEGORIES],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: {
            status: {},
            scale: {
              specReplicasPath: '.spec.replicas',
              statusReplicasPath: '.status.replicas',
              labelSelectorPath: '.status.selector',
            },
          },
          additionalPrinterColumns: [
            {
              name: 'Ready',
              type: 'string',
              jsonPath: '.status.conditions[?(@.type=="Ready")].status',
              description: 'Model loaded, warmed up and serving on every desired replica.',
            },
            {
              name: 'Replicas',
              type: 'integer',
              jsonPath: '.status.readyReplicas',
              description: 'Pods ready to serve.',
            },
            {
              name: 'Desired',
              type: 'integer',
              jsonPath: '.spec.replicas',
              description: 'Desired pods.',
              priority: 1,
            },
            {
              name: 'Version',
              type: 'string',
              jsonPath: '.status.currentVersion',
              description: 'Version all ready pods serve.',
            },
            {
              name: 'Target',
              type: 'string',
              jsonPath: '.status.targetVersion',
              description: 'Version being rolled out.',
              priority: 1,
            },
            {
              name: 'Canary',
              type: 'integer',
              jsonPath: '.status.canary.weight',
              description: 'Percent of traffic on the canary.',
            },
            {
              name: 'Step',
              type: 'string',
              jsonPath: '.status.canary.stepProgress',
              description: 'Canary step, counted from 1, over the number of steps.',
              priority: 1,
            },
            {
              name: 'Analysis',
              type: 'string',
              jsonPath: '.status.canary.lastAnalysis.message',
              description: 'Verdict of the last canary analysis.',
              priority: 1,
            },
            {
              name: 'Loaded',
              type: 'string',
              jsonPath: '.status.model.available',
              description:
                'With model.versionPolicy: versions available on at least one pod, newest first.',
              priority: 1,
            },
            {
              name: 'GPU',
              type: 'integer',
              jsonPath: '.spec.resources.gpu.count',
              description: 'GPUs per replica.',
            },
            {
              name: 'URL',
              type: 'string',
              jsonPath: '.status.url',
              description: 'In-cluster URL of the model.',
            },
            {
              name: 'Reason',
              type: 'string',
              jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
              description: 'Why the model is or is not ready.',
              priority: 1,
            },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: openAPISchema() },
        },
      ],
    },
  };
}
