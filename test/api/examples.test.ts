import { describe, expect, it } from 'vitest';
import { validateServedSpec } from '../../src/api/json-schema.js';
import { openAPISchema } from '../../src/api/v1alpha1/index.js';
import { invalidExamples, validExamples } from './examples.js';
import { makeValidator } from '../../src/api/json-schema.js';

const validate = makeValidator(openAPISchema());

function celMessages(node: Record<string, unknown>): string[] {
  const own = ((node['x-kubernetes-validations'] ?? []) as { message: string }[]).map(
    (r) => r.message,
  );
  const children = [
    ...Object.values((node.properties ?? {}) as Record<string, Record<string, unknown>>),
    ...(node.items ? [node.items as Record<string, unknown>] : []),
  ];
  return [...own, ...children.flatMap(celMessages)];
}

describe('valid examples', () => {
  const examples = validExamples();

  it('there are at least three, each with comments for a first-time reader', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const e of examples) expect(e.text, e.file).toMatch(/^# .+\n# /m);
  });

  it.each(examples.map((e) => [e.file, e]))('%s passes the CRD schema', (_f, e) => {
    expect(validate(structuredClone(e.object))).toEqual([]);
  });

  it.each(examples.map((e) => [e.file, e]))(
    '%s, once defaulted, matches the TypeScript types the operator reads',
    (_f, e) => {
      const served = structuredClone(e.object) as { spec: unknown };
      validate(served);
      expect(validateServedSpec(served.spec)).toEqual([]);
    },
  );

  it('the minimal example gets every default from the schema', () => {
    const mnist = structuredClone(examples.find((e) => e.file === 'mnist-cpu.yaml')!.object);
    expect(validate(mnist)).toEqual([]);
    expect(mnist.spec).toEqual({
      model: {
        uri: 'https://models.example.com/mnist/1/model.json',
        version: '1',
        format: 'auto',
        signature: 'serving_default',
      },
      runtime: {
        backend: 'wasm',
        batching: { maxBatchSize: 32, batchTimeoutMicros: 2000, maxQueueSize: 256 },
        warmup: { iterations: 2 },
        grpc: { enabled: true, probes: false },
      },
      resources: { requests: { cpu: '1', memory: '512Mi' } },
      placement: {},
      replicas: 1,
      autoscaling: {
        engine: 'none',
        minReplicas: 1,
        metric: { type: 'concurrency', target: 8 },
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 0 },
          scaleDown: { stabilizationWindowSeconds: 300 },
        },
      },
      rollout: {
        strategy: 'RollingUpdate',
        maxSurge: 1,
        maxUnavailable: 0,
        progressDeadlineSeconds: 600,
      },
      monitoring: { serviceMonitor: { enabled: 'auto', interval: '15s' } },
    });
  });

  it('a GPU block gets one GPU by default', () => {
    const mig = structuredClone(examples.find((e) => e.file === 'mig-pvc.yaml')!.object);
    validate(mig);
    expect(mig).toMatchObject({
      spec: { resources: { gpu: { count: 1, migProfile: '1g.10gb' } } },
    });
  });
});

describe('invalid examples', () => {
  const examples = invalidExamples();
  const messages = celMessages(openAPISchema());

  it('there are at least eight', () => {
    expect(examples.length).toBeGreaterThanOrEqual(8);
  });

  it.each(examples.filter((e) => e.check === 'schema').map((e) => [e.file, e]))(
    '%s is rejected by the schema at the declared field',
    (_f, e) => {
      const errors = validate(structuredClone(e.object));
      expect(e.field, 'schema cases name their field').toBeDefined();
      expect(errors.map((x) => x.path)).toContain(e.field);
    },
  );

  it.each(examples.filter((e) => e.check === 'cel').map((e) => [e.file, e]))(
    '%s passes the schema and expects a message one of our CEL rules gives',
    (_f, e) => {
      expect(validate(structuredClone(e.object))).toEqual([]);
      expect(messages.some((m) => m.includes(e.expect))).toBe(true);
    },
  );

  it('every CEL rule has an invalid example that breaks it', () => {
    const covered = examples.filter((e) => e.check === 'cel').map((e) => e.expect);
    const uncovered = messages.filter((m) => !covered.some((c) => m.includes(c)));
    expect(uncovered).toEqual([]);
  });
});
