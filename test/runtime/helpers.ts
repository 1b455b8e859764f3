// Shared test setup: fixture models generated into a temp dir, and an
// in-process runtime (service + fastify app driven with inject).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/runtime/http/app.js';
import type { ServeConfig } from '../../src/contract/runtime.js';
import { serveConfigDefaults } from '../../src/runtime/config.js';
import { RuntimeMetrics } from '../../src/runtime/metrics.js';
import { RequestBodies } from '../../src/runtime/request-bodies.js';
import { ModelService } from '../../src/runtime/service.js';
import { checkLocal, localPath } from '../../src/runtime/sources/local.js';
import type { FixtureSet } from '../support/models.js';
import { writeAllFixtures } from '../support/models.js';
import { testBackend } from './native.js';

export interface Fixtures extends FixtureSet {
  root: string;
  cleanup(): Promise<void>;
}

export async function makeFixtures(): Promise<Fixtures> {
  const root = await mkdtemp(join(tmpdir(), 'tensorfleet-fixtures-'));
  const set = await writeAllFixtures(root);
  return { ...set, root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export interface TestRuntime {
  app: FastifyInstance;
  service: ModelService;
  metrics: RuntimeMetrics;
  config: ServeConfig;
  bodies: RequestBodies;
  close(): Promise<void>;
}

export async function startRuntime(
  modelDir: string,
  overrides: Partial<ServeConfig> = {},
): Promise<TestRuntime> {
  const config = serveConfigDefaults({
    modelName: 'm',
    modelUri: modelDir,
    backend: testBackend(),
    workers: 1,
    warmupIterations: 1,
    logLevel: 'silent',
    ...overrides,
  });
  const metrics = new RuntimeMetrics(config.modelName, config.modelVersion, {
    processMetrics: false,
  });
  const bodies = new RequestBodies();
  const service = new ModelService({
    config,
    metrics,
    bodies,
    resolveModelDir: async (uri) => {
      const path = localPath(uri);
      if (path === undefined) throw new Error(`test runtime only takes local models, got ${uri}`);
      return checkLocal(uri, path);
    },
  });
  await service.start();
  const app = await buildApp({ service, metrics, bodies }, { logger: false });
  await app.ready();
  return {
    app,
    service,
    metrics,
    config,
    bodies,
    async close() {
      await app.close();
      await service.close();
    },
  };
}

/** Reads one sample value from the Prometheus text exposition. */
export async function metricValue(
  metrics: RuntimeMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const json = await metrics.registry.getMetricsAsJSON();
  for (const m of json) {
    for (const v of m.values as {
      metricName?: string;
      labels: Record<string, string | number>;
      value: number;
    }[]) {
      const metricName = v.metricName ?? m.name;
      if (metricName !== name) continue;
      if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) return v.value;
    }
  }
  return undefined;
}

/**
 * Builds a binary-extension body: the JSON header (an object, or its text
 * as is, e.g. padded to a chosen length), then the raw tensors.
 */
export function binaryBody(
  header: object | string,
  ...chunks: Buffer[]
): { payload: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  return {
    payload: Buffer.concat([json, ...chunks]),
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(json.length),
    },
  };
}
