// How the pods get the model's credentials: a Secret's keys as environment
// variables and files of the download only, the ServiceAccount that cloud
// workload identity hangs on, and pod labels/annotations for the webhooks
// that act on pods (AKS workload identity).

import { describe, expect, it } from 'vitest';
import { MODEL_CREDENTIALS_DIR } from '../../../src/api/v1alpha1/index.js';
import {
  buildDeployment,
  FETCH_CONTAINER,
  RUNTIME_CONTAINER,
} from '../../../src/operator/builders/deployment.js';
import { CONFIG, modelDeployment } from '../fixtures.js';

const pod = (spec: Record<string, unknown>) =>
  buildDeployment(modelDeployment(spec), CONFIG).spec!.template;

describe('model credentials Secret', () => {
  it.each([
    ['s3://acme-models/mnist/3/', 'aws-keys'],
    ['gs://acme-models/mnist/3/', 'gcp-key'],
    ['az://acmemodels/models/mnist/3/', 'azure-connection'],
    ['hf://acme/mnist@v3/tfjs', 'hf-token'],
    ['https://models.example.com/mnist/model.json', 'http-auth'],
  ])(
    '%s: the download gets every key as a variable and as a file; the server gets none',
    (uri, secret) => {
      const template = pod({ model: { uri, credentialsSecret: secret } });
      const fetch = template.spec!.initContainers!.find((c) => c.name === FETCH_CONTAINER)!;
      expect(fetch.envFrom).toEqual([{ secretRef: { name: secret } }]);
      expect(fetch.volumeMounts).toContainEqual({
        name: 'model-credentials',
        mountPath: MODEL_CREDENTIALS_DIR,
        readOnly: true,
      });
      expect(template.spec!.volumes).toContainEqual({
        name: 'model-credentials',
        secret: { secretName: secret, defaultMode: 0o440 },
      });
      // Readable by the runtime user through the pod's fsGroup.
      expect(template.spec!.securityContext!.fsGroup).toBe(
        template.spec!.securityContext!.runAsUser,
      );
      const runtime = template.spec!.containers.find((c) => c.name === RUNTIME_CONTAINER)!;
      expect(runtime.envFrom).toBeUndefined();
      expect(runtime.volumeMounts!.map((m) => m.name)).not.toContain('model-credentials');
      expect(JSON.stringify(runtime)).not.toContain(secret);
    },
  );

  it.each(['s3://acme-models/mnist/', 'gs://acme-models/mnist/', 'hf://acme/mnist/versions'])(
    '%s followed with versionPolicy: the runtime downloads, so it gets the variables and the files',
    (uri) => {
      const template = pod({
        model: { uri, credentialsSecret: 'keys', versionPolicy: { latest: { numVersions: 1 } } },
      });
      expect(template.spec!.initContainers).toBeUndefined();
      const runtime = template.spec!.containers.find((c) => c.name === RUNTIME_CONTAINER)!;
      expect(runtime.envFrom).toEqual([{ secretRef: { name: 'keys' } }]);
      expect(runtime.volumeMounts).toContainEqual({
        name: 'model-credentials',
        mountPath: MODEL_CREDENTIALS_DIR,
        readOnly: true,
      });
      expect(template.spec!.volumes).toContainEqual({
        name: 'model-credentials',
        secret: { secretName: 'keys', defaultMode: 0o440 },
      });
    },
  );

  it('mounts nothing without a Secret, and nothing for a model read in place', () => {
    for (const spec of [
      { model: { uri: 's3://acme-models/mnist/3/' } },
      { model: { uri: 'file:///models/mnist' } },
    ]) {
      const template = pod(spec);
      expect(JSON.stringify(template)).not.toContain('model-credentials');
      expect(JSON.stringify(template)).not.toContain('envFrom');
    }
  });

  it('the mount path is the one the CRD tells users to write in GOOGLE_APPLICATION_CREDENTIALS', () => {
    expect(MODEL_CREDENTIALS_DIR).toBe('/var/run/secrets/tensorfleet/model-credentials');
  });
});

describe('workload identity', () => {
  it('runs the pods as spec.serviceAccountName, still without mounting its API token', () => {
    const template = pod({
      model: { uri: 's3://acme-models/mnist/3/' },
      serviceAccountName: 'model-reader',
    });
    expect(template.spec!.serviceAccountName).toBe('model-reader');
    // The IRSA, EKS Pod Identity and AKS webhooks project their own tokens; GKE's metadata server needs none.
    expect(template.spec!.automountServiceAccountToken).toBe(false);
  });

  it('leaves the ServiceAccount to the namespace default when unset', () => {
    expect(pod({}).spec!.serviceAccountName).toBeUndefined();
  });

  it("adds podMetadata labels and annotations to the pods, the operator's own winning", () => {
    const template = pod({
      model: { uri: 'az://acmemodels/models/mnist/3/' },
      serviceAccountName: 'model-reader',
      podMetadata: {
        labels: { 'azure.workload.identity/use': 'true', team: 'vision' },
        annotations: {
          'vault.hashicorp.com/agent-inject': 'true',
          'kubectl.kubernetes.io/default-container': 'fetch-model',
        },
      },
    });
    expect(template.metadata!.labels).toMatchObject({
      'azure.workload.identity/use': 'true',
      team: 'vision',
      'tensorfleet.dev/model': 'mnist',
      'tensorfleet.dev/track': 'stable',
    });
    expect(template.metadata!.annotations).toMatchObject({
      'vault.hashicorp.com/agent-inject': 'true',
      'kubectl.kubernetes.io/default-container': RUNTIME_CONTAINER,
    });
  });

  it('keeps the selector labels whatever podMetadata says (the CRD refuses them too)', () => {
    const md = modelDeployment({
      podMetadata: { labels: { 'tensorfleet.dev/track': 'canary', 'tensorfleet.dev/model': 'x' } },
    });
    const d = buildDeployment(md, CONFIG);
    for (const [k, v] of Object.entries(d.spec!.selector.matchLabels!))
      expect(d.spec!.template.metadata!.labels![k]).toBe(v);
  });
});
