import { describe, expect, it } from 'vitest';
import { buildDeployment, gpuRequest } from '../../../src/operator/builders/deployment.js';
import {
  GPU_CLAIM,
  buildResourceClaimTemplate,
  draRequest,
} from '../../../src/operator/builders/resource-claim-template.js';
import { CONFIG, modelDeployment } from '../fixtures.js';

const H100 = 'device.attributes["gpu.nvidia.com"].productName == "NVIDIA H100 80GB HBM3"';

const draSpec = (dra: Record<string, unknown>, count = 2, version = '3') => ({
  model: { uri: `s3://models/mnist/${version}/`, version },
  resources: { gpu: { count, dra } },
});

describe('buildResourceClaimTemplate', () => {
  it('asks for count devices of the class, with the selectors, in resource.k8s.io/v1', () => {
    const md = modelDeployment(
      draSpec({
        selectors: [{ cel: { expression: H100 } }],
        matchAttribute: 'resource.kubernetes.io/pcieRoot',
      }),
    );
    const t = buildResourceClaimTemplate(md)!;
    expect(t.apiVersion).toBe('resource.k8s.io/v1');
    expect(t.kind).toBe('ResourceClaimTemplate');
    expect(t.metadata.namespace).toBe('ml');
    expect(t.metadata.name).toMatch(/^mnist-gpu-[0-9a-f]{10}$/);
    expect(t.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'ModelDeployment', uid: 'uid-mnist', controller: true }),
    ]);
    expect(t.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('tensorfleet');
    expect(t.spec.spec.devices).toEqual({
      requests: [
        {
          name: GPU_CLAIM,
          exactly: {
            deviceClassName: 'gpu.nvidia.com',
            allocationMode: 'ExactCount',
            count: 2,
            selectors: [{ cel: { expression: H100 } }],
          },
        },
      ],
      constraints: [{ requests: [GPU_CLAIM], matchAttribute: 'resource.kubernetes.io/pcieRoot' }],
    });
  });

  it('defaults the device class to gpu.nvidia.com and leaves out what is not asked for', () => {
    const t = buildResourceClaimTemplate(modelDeployment(draSpec({}, 1)))!;
    expect(t.spec.spec.devices).toEqual({
      requests: [
        {
          name: GPU_CLAIM,
          exactly: { deviceClassName: 'gpu.nvidia.com', allocationMode: 'ExactCount', count: 1 },
        },
      ],
    });
  });

  it('builds nothing for CPU models, device-plugin GPUs and count 0', () => {
    expect(buildResourceClaimTemplate(modelDeployment({}))).toBeUndefined();
    expect(
      buildResourceClaimTemplate(modelDeployment({ resources: { gpu: { count: 1 } } })),
    ).toBeUndefined();
    // CEL refuses dra with count 0; the builder is safe anyway.
    expect(buildResourceClaimTemplate(modelDeployment(draSpec({}, 0)))).toBeUndefined();
  });

  it('names a new template when the request changes, and keeps it across versions', () => {
    const name = (spec: ReturnType<typeof draSpec>) =>
      buildResourceClaimTemplate(modelDeployment(spec))!.metadata.name;
    const base = name(draSpec({}));
    expect(name(draSpec({}, 2, '4'))).toBe(base);
    expect(name(draSpec({}, 3))).not.toBe(base);
    expect(name(draSpec({ deviceClassName: 'mig.nvidia.com' }))).not.toBe(base);
    expect(name(draSpec({ selectors: [{ cel: { expression: H100 } }] }))).not.toBe(base);
  });
});

describe('the pod template of a DRA model', () => {
  const md = modelDeployment(draSpec({ selectors: [{ cel: { expression: H100 } }] }));
  const pod = buildDeployment(md, CONFIG).spec!.template.spec!;
  const runtime = pod.containers[0]!;

  it('names the template in spec.resourceClaims and the claim in the runtime container', () => {
    expect(pod.resourceClaims).toEqual([
      { name: GPU_CLAIM, resourceClaimTemplateName: buildResourceClaimTemplate(md)!.metadata.name },
    ]);
    expect(runtime.resources?.claims).toEqual([{ name: GPU_CLAIM }]);
  });

  it('asks for no device-plugin GPU, runs the GPU image and tolerates the GPU taint', () => {
    expect(gpuRequest(md, CONFIG)).toBeUndefined();
    expect(JSON.stringify(runtime.resources)).not.toContain('nvidia.com/gpu');
    expect(runtime.image).toBe(CONFIG.runtimeGpuImage);
    expect(pod.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(pod.affinity).toBeUndefined();
  });

  it('tolerates no NVIDIA taint for another vendor’s class', () => {
    const other = modelDeployment(draSpec({ deviceClassName: 'gpu.example.com' }));
    expect(buildDeployment(other, CONFIG).spec!.template.spec!.tolerations).toBeUndefined();
  });

  it('leaves device-plugin and CPU pods without claims', () => {
    for (const spec of [{}, { resources: { gpu: { count: 1 } } }]) {
      const p = buildDeployment(modelDeployment(spec), CONFIG).spec!.template.spec!;
      expect(p.resourceClaims).toBeUndefined();
      expect(p.containers[0]!.resources?.claims).toBeUndefined();
    }
  });

  it('draRequest reads the request the template and the capacity count share', () => {
    expect(draRequest(md)).toEqual({
      deviceClassName: 'gpu.nvidia.com',
      count: 2,
      selectors: [H100],
    });
  });
});
