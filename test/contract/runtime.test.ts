// The operator-runtime contract: the arguments the operator's Deployment
// builder writes are the ones the runtime parses back, to the value, for
// ModelDeployments whose runtime settings vary over the whole range the CRD
// accepts; the flags serveArgs/fetchArgs write are the runtime's own table's;
// the CRD's lists are the runtime's.

import { readFileSync } from 'node:fs';

import fc from 'fast-check';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import {
  BACKENDS,
  envName,
  FORMATS,
  flagOf,
  LIVE_PATH,
  MODEL_QUALITY_METRICS,
  QUALITY_KINDS,
  READY_PATH,
  RUNTIME_PORT,
  TERMINATION_LOG,
} from '../../src/contract/runtime.js';
import {
  buildDeployment,
  FETCH_CONTAINER,
  RUNTIME_CONTAINER,
} from '../../src/operator/builders/deployment.js';
import {
  FETCH_OPTIONS,
  parseFetchConfig,
  parseServeConfig,
  SERVE_OPTIONS,
} from '../../src/runtime/config.js';
import { QUALITY_METRICS } from '../../src/runtime/quality/quality-metrics.js';
import { CONFIG, modelDeployment } from '../operator/fixtures.js';

describe('the runtime options the contract writes', () => {
  it('are the runtime table’s flags and variables', () => {
    for (const spec of [...SERVE_OPTIONS, ...FETCH_OPTIONS]) {
      expect(spec.flag).toBe(flagOf(spec.key));
    }
    expect(envName(flagOf('maxBatchSize'))).toBe('TENSORFLEET_MAX_BATCH_SIZE');
  });

  it('the CRD installed offers exactly the backends and formats the runtime parses', () => {
    interface Schema {
      properties?: Record<string, Schema>;
      enum?: unknown[];
    }
    const crd = yaml.load(
      readFileSync(
        new URL('../../crds/tensorfleet.dev_modeldeployments.yaml', import.meta.url),
        'utf8',
      ),
    ) as {
      spec: { versions: Array<{ schema: { openAPIV3Schema: Schema } }> };
    };
    const spec = crd.spec.versions[0]?.schema.openAPIV3Schema.properties?.['spec']?.properties;
    expect(spec?.['runtime']?.properties?.['backend']?.enum).toEqual([...BACKENDS]);
    expect(spec?.['model']?.properties?.['format']?.enum).toEqual([...FORMATS]);
    expect(spec?.['monitoring']?.properties?.['quality']?.properties?.['kind']?.enum).toEqual([
      ...QUALITY_KINDS,
    ]);
  });

  it('names the quality series canary analysis reads as the runtime exports them', () => {
    expect(MODEL_QUALITY_METRICS).toEqual({
      labelled: QUALITY_METRICS.labelled,
      correct: QUALITY_METRICS.correct,
      absoluteError: QUALITY_METRICS.absoluteError,
    });
  });
});

describe('a Deployment the operator builds', () => {
  it('starts a runtime that parses every argument back to the spec’s values', () => {
    fc.assert(
      fc.property(
        fc.record({
          backend: fc.constantFrom(...BACKENDS),
          format: fc.constantFrom(...FORMATS),
          maxBatchSize: fc.integer({ min: 1, max: 1024 }),
          batchTimeoutMicros: fc.integer({ min: 0, max: 1_000_000 }),
          maxQueueSize: fc.integer({ min: 1, max: 100_000 }),
          warmup: fc.integer({ min: 0, max: 100 }),
          workers: fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }),
          uri: fc.constantFrom(
            's3://models/mnist/3/',
            'https://example.com/m/model.json',
            'pvc://claim/models/m',
            'file:///models/m',
          ),
          signature: fc.constantFrom('serving_default', 'predict'),
        }),
        (v) => {
          const md = modelDeployment({
            model: { uri: v.uri, version: '3', format: v.format, signature: v.signature },
            runtime: {
              backend: v.backend,
              batching: {
                maxBatchSize: v.maxBatchSize,
                batchTimeoutMicros: v.batchTimeoutMicros,
                maxQueueSize: v.maxQueueSize,
              },
              warmup: { iterations: v.warmup },
              ...(v.workers === undefined ? {} : { workers: v.workers }),
            },
          });
          const pod = buildDeployment(md, CONFIG).spec!.template.spec!;
          const runtime = pod.containers.find((c) => c.name === RUNTIME_CONTAINER)!;
          const [command, ...argv] = runtime.args!;
          expect(command).toBe('serve');
          // No environment: what the pod gets is in its arguments.
          const config = parseServeConfig(argv, {});
          expect(config).toMatchObject({
            modelName: 'mnist',
            modelVersion: '3',
            modelFormat: v.format,
            signature: v.signature,
            backend: v.backend,
            port: RUNTIME_PORT,
            maxBatchSize: v.maxBatchSize,
            batchTimeoutMicros: v.batchTimeoutMicros,
            maxQueueSize: v.maxQueueSize,
            warmupIterations: v.warmup,
          });
          if (v.workers !== undefined) expect(config.workers).toBe(v.workers);
          expect(runtime.ports?.[0]?.containerPort).toBe(config.port);
          expect(runtime.readinessProbe?.httpGet?.path).toBe(READY_PATH);
          expect(runtime.livenessProbe?.httpGet?.path).toBe(LIVE_PATH);
          expect(runtime.terminationMessagePath).toBe(TERMINATION_LOG);

          const fetch = pod.initContainers?.find((c) => c.name === FETCH_CONTAINER);
          const fetched = /^(s3|https):/.test(v.uri);
          expect(fetch !== undefined).toBe(fetched);
          if (fetch !== undefined) {
            const [fetchCommand, ...fetchArgv] = fetch.args!;
            expect(fetchCommand).toBe('fetch');
            const f = parseFetchConfig(fetchArgv, {});
            expect(f.modelUri).toBe(v.uri);
            // The runtime serves what the init container fetched.
            expect(config.modelUri).toBe(`file://${f.dest}`);
          } else {
            expect(config.modelUri).toMatch(/^file:\/\//);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('monitoring.quality in the pod', () => {
  const args = (spec: Record<string, unknown>) => {
    const runtime = buildDeployment(modelDeployment(spec), CONFIG).spec!.template.spec!
      .containers[0]!;
    return runtime.args!.slice(1);
  };

  it('turns tracking on with the output, kind and window the runtime parses back', () => {
    fc.assert(
      fc.property(
        fc.record({
          output: fc.option(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_:/]{0,40}$/), {
            nil: undefined,
          }),
          kind: fc.constantFrom(...QUALITY_KINDS),
          window: fc.integer({ min: 1, max: 1_000_000 }),
        }),
        (q) => {
          const config = parseServeConfig(args({ monitoring: { quality: q } }), {});
          expect(config).toMatchObject({
            qualityTracking: true,
            qualityKind: q.kind,
            qualityWindow: q.window,
          });
          expect(config.qualityOutput).toBe(q.output);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('passes no quality flag when the block is absent or enabled is false', () => {
    for (const spec of [{}, { monitoring: { quality: { enabled: false, kind: 'regression' } } }]) {
      expect(args(spec).filter((a) => a.startsWith('--quality'))).toEqual([]);
      expect(parseServeConfig(args(spec), {}).qualityTracking).toBe(false);
    }
  });

  it('writes the CRD defaults when only the block is given', () => {
    expect(args({ monitoring: { quality: {} } }).filter((a) => a.startsWith('--quality'))).toEqual([
      '--quality-tracking=true',
      '--quality-kind=auto',
      '--quality-window=1000',
    ]);
  });
});
