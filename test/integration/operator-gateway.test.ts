/**
 * Canary traffic split by exact weights through a Gateway API HTTPRoute,
 * accepted by the real API server with the real HTTPRoute CRD (Gateway API
 * v1.6.3, standard channel). The canary's analysis has no figures here (no
 * Prometheus), so it holds at its first step until promoted by annotation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../src/operator/operator.js';
import { createNamespace, deleteNamespace, eventually, kubectlOk, watchLines } from './context.js';
import {
  apply,
  condition,
  getJson,
  modelDeploymentManifest,
  startOperator,
  waitForCondition,
  type ModelDeploymentJson,
} from './operator-support.js';

interface Route {
  metadata: { resourceVersion: string };
  spec: { rules: { backendRefs: { name: string; weight: number }[] }[] };
}

let ns = '';
let operator: Operator | undefined;
let bare: Operator | undefined;

const spec = (version: string) => ({
  model: { uri: `s3://models/routed/${version}/`, version },
  replicas: 2,
  rollout: {
    strategy: 'Canary',
    canary: {
      steps: [{ weight: 10, pauseSeconds: 3600 }],
      trafficRouting: { gatewayAPI: { parentRefs: [{ name: 'models' }] } },
    },
  },
});

const weights = async (name: string) => {
  const route = await getJson<Route>(ns, 'httproute', name);
  return route?.spec.rules[0]?.backendRefs.map((b) => `${b.name}=${b.weight}`).join(',');
};

beforeAll(async () => {
  ns = await createNamespace('gateway');
  operator = await startOperator(ns);
});

afterAll(async () => {
  await operator?.stop();
  await bare?.stop();
  if (ns) await deleteNamespace(ns);
});

describe('canary traffic through a Gateway API HTTPRoute', () => {
  it('routes the step weight exactly, then everything to stable after promotion', async () => {
    await apply(ns, modelDeploymentManifest('routed', spec('1')));
    await waitForCondition(ns, 'routed', 'Ready', 'True');
    expect(await weights('routed')).toBe('routed-stable=100,routed-canary=0');
    const stableSvc = await getJson<{ spec: { selector: Record<string, string> } }>(
      ns,
      'service',
      'routed-stable',
    );
    expect(stableSvc?.spec.selector).toEqual({
      'tensorfleet.dev/model': 'routed',
      'tensorfleet.dev/track': 'stable',
    });

    await apply(ns, modelDeploymentManifest('routed', spec('2')));
    await eventually('the route at the canary step', async () =>
      (await weights('routed')) === 'routed-stable=90,routed-canary=10' ? true : undefined,
    );
    // Traffic must leave the canary before its Deployment goes. Resource
    // versions come from one etcd revision counter, so they order the route's
    // last write and the Deployment's deletion across kinds.
    const canaryEvents = watchLines([
      'deployment',
      'routed-canary',
      '-n',
      ns,
      '--output-watch-events',
      '-o',
      'jsonpath={.type} {.object.metadata.resourceVersion}{"\\n"}',
    ]);
    await kubectlOk(['annotate', '-n', ns, 'md', 'routed', 'tensorfleet.dev/canary-promote=2']);
    await eventually('promoted and the route back to stable', async () => {
      const md = await getJson<ModelDeploymentJson>(ns, 'md', 'routed');
      const w = await weights('routed');
      return md?.status?.currentVersion === '2' && w === 'routed-stable=100,routed-canary=0'
        ? true
        : undefined;
    });
    await eventually('canary Deployment deleted', async () =>
      (await getJson(ns, 'deployment', 'routed-canary')) === undefined ? true : undefined,
    );
    const deleted = canaryEvents
      .stop()
      .find((line) => line.startsWith('DELETED '))
      ?.split(' ')[1];
    const route = await getJson<Route>(ns, 'httproute', 'routed');
    expect(deleted, 'watch saw the canary Deployment deleted').toBeDefined();
    expect(Number(route!.metadata.resourceVersion)).toBeLessThan(Number(deleted));

    // A Gateway controller refusing the route (its status written here as one
    // would write it) shows on the model, and clears when it accepts.
    const parentStatus = (status: string, reason: string) =>
      JSON.stringify({
        status: {
          parents: [
            {
              parentRef: { name: 'models' },
              controllerName: 'example.com/gateway-controller',
              conditions: [
                {
                  type: 'Accepted',
                  status,
                  reason,
                  message: 'listener https allows routes from its own namespace only',
                  observedGeneration: 1,
                  lastTransitionTime: '2026-11-29T00:00:00Z',
                },
              ],
            },
          ],
        },
      });
    const patchRouteStatus = (body: string) =>
      kubectlOk(
        ['patch', 'httproute', 'routed', '-n', ns, '--subresource=status'].concat([
          '--type=merge',
          '-p',
          body,
        ]),
      );
    await patchRouteStatus(parentStatus('False', 'NotAllowedByListeners'));
    const refused = await waitForCondition(ns, 'routed', 'Stalled', 'True', 'HTTPRouteNotAccepted');
    expect(condition(refused, 'Stalled')!.message).toBe(
      `Gateway ${ns}/models does not accept the HTTPRoute (NotAllowedByListeners: listener https allows routes from its own namespace only)`,
    );
    await patchRouteStatus(parentStatus('True', 'Accepted'));
    await waitForCondition(ns, 'routed', 'Stalled', 'False');

    // Turning the routing off removes the route and the track Services.
    const plain = spec('2');
    delete (plain.rollout.canary as { trafficRouting?: unknown }).trafficRouting;
    await apply(ns, modelDeploymentManifest('routed', plain));
    await eventually('route and track Services gone', async () =>
      (await getJson(ns, 'httproute', 'routed')) === undefined &&
      (await getJson(ns, 'service', 'routed-stable')) === undefined
        ? true
        : undefined,
    );
  });

  it('says so when the cluster has no HTTPRoute CRD', async () => {
    await operator?.stop();
    operator = undefined;
    bare = await startOperator(ns, {}, { missingCRDs: ['httproutes'] });
    await apply(ns, modelDeploymentManifest('unrouted', spec('1')));
    const md = await waitForCondition(ns, 'unrouted', 'Stalled', 'True', 'GatewayAPINotInstalled');
    expect(condition(md, 'Stalled')!.message).toContain('HTTPRoute CRD');
    expect(await getJson(ns, 'httproute', 'unrouted')).toBeUndefined();
  });
});
