// The builtin autoscaler against the real API server: it writes replicas
// through the scale subresource, the Deployment follows, and status says what
// it saw and why. The signal comes from a loopback stand-in for Prometheus's
// query API, so the test controls the load exactly.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../src/operator/operator.js';
import { createNamespace, deleteNamespace, eventually } from './context.js';
import type { ModelDeploymentJson } from './operator-support.js';
import { apply, getJson, modelDeploymentManifest, startOperator } from './operator-support.js';

let ns: string;
let operator: Operator;
let signal = 0;
const queries: string[] = [];
const prometheus = http.createServer((req, res) => {
  const query = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
  queries.push(query);
  // A model whose metric cannot be read (the query fails).
  if (query.includes('"unmeasured"')) {
    res.writeHead(503, { 'Content-Type': 'application/json' });
    res.end('{"status":"error","errorType":"unavailable","error":"no data yet"}');
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(
    JSON.stringify({
      status: 'success',
      data: { resultType: 'vector', result: [{ metric: {}, value: [0, String(signal)] }] },
    }),
  );
});

beforeAll(async () => {
  await new Promise<void>((r) => prometheus.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;
  ns = await createNamespace('autoscale');
  operator = await startOperator(ns, { prometheusUrl: url }, { autoscalerIntervalMs: 500 });
});

afterAll(async () => {
  await operator?.stop();
  prometheus.close();
  await deleteNamespace(ns);
});

const replicasOf = async (name: string) =>
  (await getJson<ModelDeploymentJson>(ns, 'md', name))?.spec.replicas;

describe('builtin autoscaler', () => {
  it('scales up through /scale, then down after the window, within min and max', async () => {
    await apply(
      ns,
      modelDeploymentManifest('auto', {
        autoscaling: {
          engine: 'builtin',
          minReplicas: 1,
          maxReplicas: 4,
          metric: { type: 'concurrency', target: 8 },
          behavior: { scaleDown: { stabilizationWindowSeconds: 2 } },
        },
      }),
    );
    signal = 40; // 5 replicas' worth, above max 4
    await eventually('scaled to max', async () =>
      (await replicasOf('auto')) === 4 ? true : undefined,
    );
    await eventually('Deployment follows', async () => {
      const d = await getJson<V1Deployment>(ns, 'deployment', 'auto');
      return d?.spec?.replicas === 4 ? true : undefined;
    });
    const md = await eventually('status reports the decision', async () => {
      const m = await getJson<ModelDeploymentJson>(ns, 'md', 'auto');
      return m?.status?.autoscaling?.desiredReplicas === 4 ? m : undefined;
    });
    expect(md.status?.autoscaling).toMatchObject({
      engine: 'builtin',
      currentValue: expect.any(Number) as number,
    });
    expect(md.status?.autoscaling?.lastScaleTime).toBeDefined();
    expect(queries.some((q) => q.includes(`namespace="${ns}",model="auto"`))).toBe(true);

    signal = 0;
    await eventually(
      'scaled down to min',
      async () => ((await replicasOf('auto')) === 1 ? true : undefined),
      30_000,
    );
    const after = await getJson<ModelDeploymentJson>(ns, 'md', 'auto');
    expect(after?.status?.autoscaling?.lastDecision).toMatch(/scale down|steady/);
  });

  it('holds minReplicas before it has any metric, as an HPA does', async () => {
    await apply(
      ns,
      modelDeploymentManifest('unmeasured', {
        replicas: 1,
        autoscaling: {
          engine: 'builtin',
          minReplicas: 2,
          maxReplicas: 4,
          metric: { type: 'concurrency', target: 8 },
        },
      }),
    );
    await eventually('raised to minReplicas', async () =>
      (await replicasOf('unmeasured')) === 2 ? true : undefined,
    );
    const md = await getJson<ModelDeploymentJson>(ns, 'md', 'unmeasured');
    expect(JSON.stringify(md?.status)).toContain('no signal');
  });
});
