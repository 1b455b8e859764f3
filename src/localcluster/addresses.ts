/**
 * Where the embedded cluster's addresses may point. Nothing this project runs
 * may send a packet off the machine, so every pod IP, host IP, node address
 * and endpoint of the embedded cluster must be on loopback, or inside a subnet
 * that exists only on this machine (the real node's bridge).
 */
import { BlockList, isIP } from 'node:net';

import type { V1EndpointSlice, V1Endpoints, V1Node, V1Pod } from '@kubernetes/client-node';

/** IPv4 and IPv6 loopback. */
export const LOOPBACK_CIDRS: readonly string[] = ['127.0.0.0/8', '::1/128'];

/** One address the cluster stores, and which object and field holds it. */
export interface ClusterAddress {
  readonly object: string;
  readonly field: string;
  readonly ip: string;
}

export interface ClusterObjects {
  readonly pods?: readonly V1Pod[];
  readonly nodes?: readonly V1Node[];
  readonly endpointSlices?: readonly V1EndpointSlice[];
  readonly endpoints?: readonly V1Endpoints[];
}

const named = (kind: string, meta: { namespace?: string; name?: string } | undefined): string =>
  `${kind}/${meta?.namespace === undefined ? '' : `${meta.namespace}/`}${meta?.name ?? '?'}`;

/** Every IP address the given objects hold: pod and host IPs, node addresses, endpoints. */
export function clusterAddresses(objects: ClusterObjects): ClusterAddress[] {
  const out: ClusterAddress[] = [];
  const add = (object: string, field: string, ip: string | undefined): void => {
    if (ip !== undefined && ip !== '') out.push({ object, field, ip });
  };
  for (const pod of objects.pods ?? []) {
    const object = named('pod', pod.metadata);
    add(object, 'status.podIP', pod.status?.podIP);
    for (const { ip } of pod.status?.podIPs ?? []) add(object, 'status.podIPs', ip);
    add(object, 'status.hostIP', pod.status?.hostIP);
    for (const { ip } of pod.status?.hostIPs ?? []) add(object, 'status.hostIPs', ip);
  }
  for (const node of objects.nodes ?? []) {
    const object = named('node', node.metadata);
    for (const address of node.status?.addresses ?? []) {
      // Hostname and DNS entries are names, not addresses.
      if (isIP(address.address) !== 0)
        add(object, `status.addresses[${address.type}]`, address.address);
    }
  }
  for (const slice of objects.endpointSlices ?? []) {
    const object = named('endpointslice', slice.metadata);
    // A slice without endpoints has `endpoints: null`.
    for (const endpoint of slice.endpoints ?? []) {
      for (const ip of endpoint.addresses) add(object, 'endpoints.addresses', ip);
    }
  }
  for (const endpoints of objects.endpoints ?? []) {
    const object = named('endpoints', endpoints.metadata);
    for (const subset of endpoints.subsets ?? []) {
      for (const a of [...(subset.addresses ?? []), ...(subset.notReadyAddresses ?? [])]) {
        add(object, 'subsets.addresses', a.ip);
      }
    }
  }
  return out;
}

/** A matcher for `cidrs` (IPv4 or IPv6, `a.b.c.d/n` or `x::/n`). */
export function cidrMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [network = '', bits = ''] = cidr.split('/');
    const family = isIP(network);
    const prefix = Number(bits);
    if (family === 0 || !Number.isInteger(prefix) || bits === '') {
      throw new Error(`not a CIDR: ${JSON.stringify(cidr)}`);
    }
    list.addSubnet(network, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return (ip) => {
    const family = isIP(ip);
    return family !== 0 && list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/**
 * The addresses outside loopback and `localSubnets` (subnets that exist only
 * on this machine): each one is a place a packet could leave the machine for.
 */
export function offMachineAddresses(
  addresses: readonly ClusterAddress[],
  localSubnets: readonly string[] = [],
): ClusterAddress[] {
  const local = cidrMatcher([...LOOPBACK_CIDRS, ...localSubnets]);
  return addresses.filter((address) => !local(address.ip));
}
