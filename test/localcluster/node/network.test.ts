import { describe, expect, it } from 'vitest';

import { cidrMatcher } from '../../../src/localcluster/addresses.js';
import { SERVICE_CIDR } from '../../../src/localcluster/flags.js';
import {
  cniConfig,
  forwardGuardRules,
  NODE_BRIDGE,
  NODE_IP,
  NODE_SUBNET,
  ownedChainRemoval,
  POD_RESOLV_CONF,
  splitRule,
} from '../../../src/localcluster/node/network.js';

interface Plugin {
  type: string;
  isGateway?: boolean;
  isDefaultGateway?: boolean;
  ipMasq?: boolean;
  ipam?: {
    ranges: Array<Array<{ subnet: string; gateway: string }>>;
    routes: Array<{ dst: string; gw?: string }>;
  };
}

describe('the pod network', () => {
  const config = cniConfig({ serviceCidr: SERVICE_CIDR, ipamDataDir: '/ipam' }) as {
    plugins: Plugin[];
  };
  const bridge = config.plugins.find((plugin) => plugin.type === 'bridge');

  it('gives pods no default route: only the Service CIDR, through the node', () => {
    expect(bridge?.isGateway).toBe(false);
    expect(bridge?.isDefaultGateway).toBe(false);
    const routes = bridge?.ipam?.routes ?? [];
    expect(routes).toEqual([{ dst: SERVICE_CIDR, gw: NODE_IP }]);
    for (const route of routes) expect(route.dst).not.toMatch(/^0\.0\.0\.0\/0$|^::\/0$/);
  });

  it('masquerades nothing and hands out addresses from the node subnet', () => {
    expect(bridge?.ipMasq).toBe(false);
    expect(bridge?.ipam?.ranges).toEqual([[{ subnet: NODE_SUBNET, gateway: NODE_IP }]]);
    expect(cidrMatcher([NODE_SUBNET])(NODE_IP)).toBe(true);
    const portmap = config.plugins.find((plugin) => plugin.type === 'portmap') as
      { snat?: boolean } | undefined;
    expect(portmap?.snat).toBe(false);
  });

  it('names no nameserver a query could leave the pod for', () => {
    const servers = POD_RESOLV_CONF.split('\n')
      .filter((line) => line.startsWith('nameserver'))
      .map((line) => line.split(/\s+/)[1] ?? '');
    expect(servers.length).toBeGreaterThan(0);
    for (const server of servers) expect(cidrMatcher(['127.0.0.0/8'])(server)).toBe(true);
  });

  it('guards forwarding: nothing between the bridge and another interface', () => {
    const rules = forwardGuardRules().map((args) => args.join(' '));
    expect(rules).toContain(
      `-t filter -A TENSORFLEET-FORWARD -i ${NODE_BRIDGE} ! -o ${NODE_BRIDGE} -j DROP`,
    );
    expect(rules).toContain(
      `-t filter -A TENSORFLEET-FORWARD ! -i ${NODE_BRIDGE} -o ${NODE_BRIDGE} -j DROP`,
    );
    expect(rules.at(-1)).toBe('-t filter -I FORWARD 1 -j TENSORFLEET-FORWARD');
  });
});

describe('ownedChainRemoval', () => {
  const listing = [
    '-P PREROUTING ACCEPT',
    '-P OUTPUT ACCEPT',
    '-N DOCKER',
    '-N KUBE-SERVICES',
    '-N KUBE-SVC-ABC',
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -j DOCKER',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A KUBE-SERVICES -d 10.96.0.1/32 -j KUBE-SVC-ABC',
    '-A DOCKER -j RETURN',
  ].join('\n');

  it('removes the jumps into owned chains, then flushes and deletes them, and nothing else', () => {
    expect(ownedChainRemoval('nat', listing)).toEqual([
      [
        '-t',
        'nat',
        '-D',
        'PREROUTING',
        '-m',
        'comment',
        '--comment',
        'kubernetes service portals',
        '-j',
        'KUBE-SERVICES',
      ],
      [
        '-t',
        'nat',
        '-D',
        'OUTPUT',
        '-m',
        'comment',
        '--comment',
        'kubernetes service portals',
        '-j',
        'KUBE-SERVICES',
      ],
      ['-t', 'nat', '-F', 'KUBE-SERVICES'],
      ['-t', 'nat', '-F', 'KUBE-SVC-ABC'],
      ['-t', 'nat', '-X', 'KUBE-SERVICES'],
      ['-t', 'nat', '-X', 'KUBE-SVC-ABC'],
    ]);
  });

  it('has nothing to do on a host without owned chains', () => {
    expect(ownedChainRemoval('filter', '-P INPUT ACCEPT\n-N DOCKER\n-A INPUT -j DOCKER\n')).toEqual(
      [],
    );
  });

  it('splits quoted words with escapes', () => {
    expect(splitRule('-A X -m comment --comment "a \\"b\\" c" -j Y')).toEqual([
      '-A',
      'X',
      '-m',
      'comment',
      '--comment',
      'a "b" c',
      '-j',
      'Y',
    ]);
  });
});
