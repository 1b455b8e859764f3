import { describe, expect, it } from 'vitest';

import {
  cidrMatcher,
  clusterAddresses,
  offMachineAddresses,
} from '../../src/localcluster/addresses.js';
import { kwokArgs, SIMULATED_NODE_IP, SIMULATED_POD_CIDR } from '../../src/localcluster/flags.js';

describe('cidrMatcher', () => {
  const local = cidrMatcher(['127.0.0.0/8', '::1/128', '10.88.0.0/24']);

  it.each([
    ['127.0.0.1', true],
    ['127.244.3.9', true],
    ['::1', true],
    ['10.88.0.17', true],
    ['10.88.1.1', false],
    ['10.244.0.5', false],
    ['192.168.1.1', false],
    ['8.8.8.8', false],
    ['::2', false],
    ['not-an-ip', false],
    ['', false],
  ])('%s -> %s', (ip, expected) => {
    expect(local(ip)).toBe(expected);
  });

  it('rejects what is not a CIDR', () => {
    expect(() => cidrMatcher(['10.0.0.0'])).toThrow('not a CIDR');
    expect(() => cidrMatcher(['x/8'])).toThrow('not a CIDR');
  });
});

describe('the simulated cluster is configured on loopback', () => {
  const local = cidrMatcher(['127.0.0.0/8']);
  it('kwok hands out pod and node IPs from loopback', () => {
    const args = kwokArgs({ kubeconfig: '/k', serverPort: 1, stageFiles: [], nodeSelector: 'a=b' });
    expect(args).toContain(`--cidr=${SIMULATED_POD_CIDR}`);
    expect(args).toContain(`--node-ip=${SIMULATED_NODE_IP}`);
    expect(local(SIMULATED_POD_CIDR.split('/')[0] ?? '')).toBe(true);
    expect(Number(SIMULATED_POD_CIDR.split('/')[1])).toBeGreaterThanOrEqual(8);
    expect(local(SIMULATED_NODE_IP)).toBe(true);
  });
});

describe('clusterAddresses and offMachineAddresses', () => {
  const addresses = clusterAddresses({
    pods: [
      {
        metadata: { namespace: 'ns', name: 'p' },
        status: {
          podIP: '127.244.0.2',
          podIPs: [{ ip: '127.244.0.2' }],
          hostIP: '10.1.2.3',
          hostIPs: [{ ip: '10.1.2.3' }],
        },
      },
      { metadata: { namespace: 'ns', name: 'pending' }, status: {} },
    ],
    nodes: [
      {
        metadata: { name: 'n' },
        status: {
          addresses: [
            { type: 'InternalIP', address: '127.243.0.1' },
            { type: 'Hostname', address: 'n' },
          ],
        },
      },
    ],
    endpointSlices: [
      {
        metadata: { namespace: 'ns', name: 's' },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.88.0.5'] }],
      },
      // What the API server returns for a Service without endpoints.
      {
        metadata: { namespace: 'ns', name: 'empty' },
        addressType: 'IPv4',
        endpoints: null as unknown as [],
      },
    ],
    endpoints: [
      {
        metadata: { namespace: 'ns', name: 'e' },
        subsets: [{ addresses: [{ ip: '127.0.0.1' }], notReadyAddresses: [{ ip: '8.8.8.8' }] }],
      },
    ],
  });

  it('collects every IP with the object and field that holds it, and no names', () => {
    expect(addresses.map((a) => `${a.object} ${a.field} ${a.ip}`)).toEqual([
      'pod/ns/p status.podIP 127.244.0.2',
      'pod/ns/p status.podIPs 127.244.0.2',
      'pod/ns/p status.hostIP 10.1.2.3',
      'pod/ns/p status.hostIPs 10.1.2.3',
      'node/n status.addresses[InternalIP] 127.243.0.1',
      'endpointslice/ns/s endpoints.addresses 10.88.0.5',
      'endpoints/ns/e subsets.addresses 127.0.0.1',
      'endpoints/ns/e subsets.addresses 8.8.8.8',
    ]);
  });

  it('names what is neither loopback nor a local subnet', () => {
    expect(offMachineAddresses(addresses).map((a) => a.ip)).toEqual([
      '10.1.2.3',
      '10.1.2.3',
      '10.88.0.5',
      '8.8.8.8',
    ]);
    expect(offMachineAddresses(addresses, ['10.0.0.0/8']).map((a) => a.ip)).toEqual(['8.8.8.8']);
  });
});
