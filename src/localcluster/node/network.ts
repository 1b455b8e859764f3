/**
 * The real node's network, a subnet that exists only on this machine:
 *
 * - a bridge holding the node IP; the CNI bridge plugin attaches each pod to
 *   it and host-local hands out pod IPs from the same subnet;
 * - pods get NO default route: only their subnet and the Service CIDR (via
 *   the node, where kube-proxy translates ClusterIPs). A packet for anywhere
 *   else fails inside the pod;
 * - forwarding is switched on for the bridge alone (IPv4 forwarding is decided
 *   by the interface a packet came in on), and a filter chain drops anything
 *   forwarded between the bridge and another interface;
 * - the Service CIDR is routed to the bridge on the host, so a ClusterIP that
 *   no kube-proxy rule translates still goes nowhere but the bridge;
 * - no masquerading to the outside, and a resolv.conf naming only the pod's
 *   own loopback, so no DNS query leaves.
 *
 * Everything here is a pure description; ./host.ts applies and removes it.
 */

export const NODE_BRIDGE = 'tfnode0';
export const NODE_SUBNET = '10.244.0.0/24';
export const NODE_IP = '10.244.0.1';
export const NODE_PREFIX = 24;
/** The name CNI results and IPAM leases are filed under. */
export const CNI_NETWORK = 'tensorfleet';
/** Filter chain (in FORWARD) that keeps forwarded packets on the bridge. */
export const FORWARD_GUARD_CHAIN = 'TENSORFLEET-FORWARD';
/** Chains owned by this node's components, removed when it stops. */
export const OWNED_CHAIN_PREFIXES = ['KUBE-', 'TENSORFLEET-'] as const;

/** The CNI network configuration list (`.conflist`) for pods on the node. */
export function cniConfig(options: {
  readonly serviceCidr: string;
  readonly ipamDataDir: string;
}): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: CNI_NETWORK,
    plugins: [
      {
        type: 'bridge',
        bridge: NODE_BRIDGE,
        // The node IP is on the bridge already; the plugin must not make the
        // bridge a default gateway or masquerade pod traffic.
        isGateway: false,
        isDefaultGateway: false,
        ipMasq: false,
        // A pod that calls its own Service through a ClusterIP is sent back to itself.
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: options.ipamDataDir,
          ranges: [[{ subnet: NODE_SUBNET, gateway: NODE_IP }]],
          routes: [{ dst: options.serviceCidr, gw: NODE_IP }],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: false },
    ],
  };
}

/** The resolv.conf pods get: a nameserver on their own loopback, where none listens. */
export const POD_RESOLV_CONF = [
  '# Tensorfleet real node: no DNS server, and no query leaves the pod.',
  'nameserver 127.0.0.1',
  'options timeout:1 attempts:1',
  '',
].join('\n');

/** `iptables` argument lists that create the forward guard (run in order). */
export function forwardGuardRules(): string[][] {
  return [
    ['-t', 'filter', '-N', FORWARD_GUARD_CHAIN],
    [
      '-t',
      'filter',
      '-A',
      FORWARD_GUARD_CHAIN,
      '-i',
      NODE_BRIDGE,
      '!',
      '-o',
      NODE_BRIDGE,
      '-j',
      'DROP',
    ],
    [
      '-t',
      'filter',
      '-A',
      FORWARD_GUARD_CHAIN,
      '!',
      '-i',
      NODE_BRIDGE,
      '-o',
      NODE_BRIDGE,
      '-j',
      'DROP',
    ],
    ['-t', 'filter', '-I', 'FORWARD', '1', '-j', FORWARD_GUARD_CHAIN],
  ];
}

/**
 * From `iptables -t <table> -S` output: the commands that remove every chain
 * with an owned prefix and every rule (in a chain we do not own) that jumps to
 * one. Rules go first, then flushes, then deletions, so no reference is left
 * when a chain is deleted.
 */
export function ownedChainRemoval(table: string, listing: string): string[][] {
  const owned = (chain: string): boolean =>
    OWNED_CHAIN_PREFIXES.some((prefix) => chain.startsWith(prefix));
  const chains: string[] = [];
  const deletes: string[][] = [];
  for (const line of listing.split('\n')) {
    const words = splitRule(line.trim());
    if (words[0] === '-N' && words[1] !== undefined && owned(words[1])) chains.push(words[1]);
    if (words[0] !== '-A' || words[1] === undefined || owned(words[1])) continue;
    const target = words[words.indexOf('-j') + 1] ?? words[words.indexOf('-g') + 1];
    if ((words.includes('-j') || words.includes('-g')) && target !== undefined && owned(target)) {
      deletes.push(['-t', table, '-D', ...words.slice(1)]);
    }
  }
  return [
    ...deletes,
    ...chains.map((chain) => ['-t', table, '-F', chain]),
    ...chains.map((chain) => ['-t', table, '-X', chain]),
  ];
}

/** Splits an `iptables -S` rule into words, keeping double-quoted parts together. */
export function splitRule(line: string): string[] {
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const match of line.matchAll(pattern)) {
    words.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] ?? ''));
  }
  return words;
}

/**
 * Kernel settings the kubelet changes (it sets what it expects unless told to
 * fail instead), recorded before it starts and put back when the node stops.
 */
export const KUBELET_SYSCTLS = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
] as const;
