/**
 * Nothing in the embedded cluster points off this machine: a pod on every
 * simulated node (and a hostNetwork one on each), behind a Service, and then
 * every pod IP, host IP, node address and endpoint the cluster stores (those of
 * every other test file running meanwhile included) is on loopback.
 */
import type { V1EndpointSlice, V1Endpoints, V1Node, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { clusterAddresses, offMachineAddresses } from '../../src/localcluster/addresses.js';
import { createNamespace, deleteNamespace, eventually, kubectlOk } from './context.js';

let namespace = '';
beforeAll(async () => {
  namespace = await createNamespace('addresses');
});
afterAll(async () => {
  await deleteNamespace(namespace);
});

/** A DaemonSet that runs on every node, GPU-tainted ones included. */
function everywhere(name: string, hostNetwork: boolean): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          hostNetwork,
          tolerations: [{ operator: 'Exists' }],
          containers: [
            { name: 'c', image: 'tensorfleet.invalid/probe:1', ports: [{ containerPort: 8501 }] },
          ],
        },
      },
    },
  });
}

async function list<T>(kind: string): Promise<T[]> {
  const out = await kubectlOk(['get', kind, '-A', '-o', 'json']);
  return (JSON.parse(out) as { items: T[] }).items;
}

describe('addresses in the embedded cluster', () => {
  it('every pod IP, host IP, node address and endpoint is on loopback', async () => {
    await kubectlOk(['apply', '-n', namespace, '-f', '-'], everywhere('pods', false));
    await kubectlOk(['apply', '-n', namespace, '-f', '-'], everywhere('host-pods', true));
    await kubectlOk(
      ['apply', '-n', namespace, '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'pods' },
        spec: { selector: { app: 'pods' }, ports: [{ port: 8501 }] },
      }),
    );
    const nodes = await list<V1Node>('nodes');
    const running = await eventually(
      'a pod with an IP on every node, twice',
      async () => {
        const pods = (await list<V1Pod>('pods')).filter(
          (pod) => pod.metadata?.namespace === namespace && (pod.status?.podIP ?? '') !== '',
        );
        return pods.length >= 2 * nodes.length ? pods : undefined;
      },
      60_000,
    );
    // Every node has pods (other files on this cluster may add nodes meanwhile).
    const used = new Set(running.map((pod) => pod.spec?.nodeName));
    expect(nodes.map((n) => n.metadata?.name).filter((n) => !used.has(n))).toEqual([]);

    const nodesNow = await list<V1Node>('nodes');
    const addresses = clusterAddresses({
      pods: await list<V1Pod>('pods'),
      nodes: nodesNow,
      endpointSlices: await list<V1EndpointSlice>('endpointslices'),
      endpoints: await list<V1Endpoints>('endpoints'),
    });
    // Pod and host IPs of this file's pods at least, and an InternalIP per node.
    expect(addresses.length).toBeGreaterThanOrEqual(5 * nodes.length);
    expect(addresses.filter((a) => a.field === 'status.addresses[InternalIP]').length).toBe(
      nodesNow.length,
    );
    expect(offMachineAddresses(addresses)).toEqual([]);
  });
});
