import type { V1EndpointSlice } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { routedPods } from '../../../src/operator/status/routed-pods.js';

function slice(
  service: string,
  endpoints: Array<{ pod?: string; ready?: boolean; kind?: string }>,
): V1EndpointSlice {
  return {
    addressType: 'IPv4',
    metadata: { labels: { 'kubernetes.io/service-name': service } },
    endpoints: endpoints.map((e, i) => ({
      addresses: [`10.244.0.${i + 2}`],
      ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
      ...(e.pod === undefined ? {} : { targetRef: { kind: e.kind ?? 'Pod', name: e.pod } }),
    })),
  };
}

describe('routedPods', () => {
  it('lists the pods with a ready endpoint in any slice of the Service', () => {
    const slices = [
      slice('mnist', [
        { pod: 'a', ready: true },
        { pod: 'b', ready: false },
      ]),
      slice('mnist', [{ pod: 'c', ready: true }]),
      slice('other', [{ pod: 'd', ready: true }]),
    ];
    expect([...routedPods(slices, 'mnist')].sort()).toEqual(['a', 'c']);
  });

  it('reads an unset ready as ready, as the API defines it, and skips endpoints that are no pod', () => {
    const slices = [slice('mnist', [{ pod: 'a' }, { pod: 'n', kind: 'Node' }, {}])];
    expect([...routedPods(slices, 'mnist')]).toEqual(['a']);
  });
});
