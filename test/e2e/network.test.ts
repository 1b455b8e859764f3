/**
 * Pods on the real node can reach nothing off this machine: their routing
 * table has no default route (only their subnet and the Service CIDR), their
 * resolv.conf names no server outside the pod, and every address the cluster
 * stores is on loopback or the node's own bridge subnet.
 */
import type { V1EndpointSlice, V1Node, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { clusterAddresses, offMachineAddresses } from '../../src/localcluster/addresses.js';
import { SERVICE_CIDR } from '../../src/localcluster/flags.js';
import { NODE_SUBNET } from '../../src/localcluster/node/network.js';
import { eventually, getJson, kubectlOk } from './context.js';

let namespace = '';
beforeAll(async () => {
  namespace = `network-${Date.now().toString(36)}`;
  await kubectlOk(['create', 'namespace', namespace]);
  await kubectlOk(
    ['apply', '-n', namespace, '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'probe' },
      spec: {
        containers: [
          {
            name: 'probe',
            image: 'ghcr.io/tensorfleet/runtime:0.1.0',
            command: ['node', '-e', 'setInterval(() => {}, 1000)'],
          },
        ],
      },
    }),
  );
  await eventually(
    'the probe pod Running',
    async () =>
      (await getJson<V1Pod>(['get', 'pod', '-n', namespace, 'probe'])).status?.phase === 'Running'
        ? true
        : undefined,
    120_000,
  );
});
afterAll(async () => {
  await kubectlOk(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']);
});

/** A file as the probe pod sees it. */
const readInProbe = (path: string): Promise<string> =>
  kubectlOk(['exec', '-n', namespace, 'probe', '--', 'cat', path]);

/** /proc/net/route's hex little-endian IPv4 address as a dotted quad. */
const dotted = (hex: string): string =>
  [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');

describe('the real node’s network', () => {
  it('gives pods no default route: only their subnet and the Service CIDR', async () => {
    const table = await readInProbe('/proc/net/route');
    const routes = table
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .map(([, destination = '', , , , , , mask = '']) => {
        const bits = dotted(mask)
          .split('.')
          .reduce((n, octet) => n + Number(octet).toString(2).replace(/0/g, '').length, 0);
        return `${dotted(destination)}/${bits}`;
      });
    expect(routes.sort()).toEqual([NODE_SUBNET, SERVICE_CIDR].sort());
  });

  it('gives pods a resolv.conf with no server outside the pod', async () => {
    const resolv = await readInProbe('/etc/resolv.conf');
    const servers = resolv
      .split('\n')
      .filter((line) => line.startsWith('nameserver'))
      .map((line) => line.split(/\s+/)[1]);
    expect(servers).toEqual(['127.0.0.1']);
  });

  it('stores no address off this machine: loopback and the node subnet only', async () => {
    const list = async <T>(kind: string) =>
      (JSON.parse(await kubectlOk(['get', kind, '-A', '-o', 'json'])) as { items: T[] }).items;
    const addresses = clusterAddresses({
      pods: await list<V1Pod>('pods'),
      nodes: await list<V1Node>('nodes'),
      endpointSlices: await list<V1EndpointSlice>('endpointslices'),
    });
    expect(addresses.some((a) => a.ip.startsWith('10.244.0.'))).toBe(true);
    expect(offMachineAddresses(addresses, [NODE_SUBNET])).toEqual([]);
  });
});
