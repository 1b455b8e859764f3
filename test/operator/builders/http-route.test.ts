import { describe, expect, it } from 'vitest';
import {
  buildHTTPRoute,
  buildTrackService,
  routeWeight,
} from '../../../src/operator/builders/http-route.js';
import { modelDeployment } from '../fixtures.js';

const routed = modelDeployment({
  rollout: {
    strategy: 'Canary',
    canary: {
      steps: [{ weight: 10 }],
      trafficRouting: {
        gatewayAPI: {
          parentRefs: [{ name: 'models', namespace: 'gateways', sectionName: 'https' }],
          hostnames: ['mnist.example.com'],
        },
      },
    },
  },
});

describe('buildHTTPRoute', () => {
  it('splits one rule between the track Services by the canary weight', () => {
    const route = buildHTTPRoute(routed, 10)!;
    expect(route.metadata.name).toBe('mnist');
    expect(route.metadata.ownerReferences[0]!.kind).toBe('ModelDeployment');
    expect(route.spec).toEqual({
      parentRefs: [
        {
          group: 'gateway.networking.k8s.io',
          kind: 'Gateway',
          name: 'models',
          namespace: 'gateways',
          sectionName: 'https',
        },
      ],
      hostnames: ['mnist.example.com'],
      rules: [
        {
          backendRefs: [
            { group: '', kind: 'Service', name: 'mnist-stable', port: 8501, weight: 90 },
            { group: '', kind: 'Service', name: 'mnist-canary', port: 8501, weight: 10 },
          ],
        },
      ],
    });
  });

  it('sends everything to stable between rollouts, and exists only when asked for', () => {
    const weights = buildHTTPRoute(routed, 0)!.spec.rules[0]!.backendRefs.map((b) => b.weight);
    expect(weights).toEqual([100, 0]);
    expect(buildHTTPRoute(modelDeployment({}), 50)).toBeUndefined();
  });
});

describe('buildTrackService', () => {
  it('selects the pods of one track on the runtime port', () => {
    const s = buildTrackService(routed, 'canary');
    expect(s.metadata.name).toBe('mnist-canary');
    expect(s.spec!.selector).toEqual({
      'tensorfleet.dev/model': 'mnist',
      'tensorfleet.dev/track': 'canary',
    });
    expect(s.spec!.ports![0]!.port).toBe(8501);
    expect(buildTrackService(routed, 'stable').metadata.name).toBe('mnist-stable');
  });
});

describe('routeWeight', () => {
  const status = (phase: 'Progressing' | 'Paused' | 'Promoting' | 'RolledBack') => ({
    phase,
    version: '2',
    uri: 'file:///m/2',
    stableVersion: '1',
    step: 1,
    weight: 30,
  });

  it('gives the canary its weight while it serves, once one of its pods is available', () => {
    expect(routeWeight(status('Progressing'), 1)).toBe(30);
    expect(routeWeight(status('Paused'), 2)).toBe(30);
    expect(routeWeight(status('Promoting'), 1)).toBe(30);
    expect(routeWeight(status('Progressing'), 0)).toBe(0);
  });

  it('sends nothing to a rolled-back canary or when there is none', () => {
    expect(routeWeight(status('RolledBack'), 1)).toBe(0);
    expect(routeWeight(undefined, 3)).toBe(0);
  });
});
