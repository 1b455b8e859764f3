import { describe, expect, it } from 'vitest';

import {
  containerdConfig,
  PAUSE_IMAGE,
  registryHostsToml,
} from '../../../src/localcluster/node/containerd.js';
import {
  kubeletArgs,
  kubeletConfiguration,
  kubeProxyConfiguration,
} from '../../../src/localcluster/node/kubelet.js';
import { NODE_IP, NODE_SUBNET } from '../../../src/localcluster/node/network.js';
import { registryConfig } from '../../../src/localcluster/node/registry.js';

describe('containerd', () => {
  const config = containerdConfig({
    root: '/n/root',
    state: '/n/state',
    socket: '/n/c.sock',
    cniConfDir: '/n/net.d',
    cniBinDir: '/usr/lib/cni',
    registryConfigDir: '/n/certs.d',
    runc: '/usr/sbin/runc',
  });

  it('keeps root, state, socket and runc state in the node directory', () => {
    expect(config).toContain('root = "/n/root"');
    expect(config).toContain('state = "/n/state"');
    expect(config).toContain('address = "/n/c.sock"');
    expect(config).toContain('Root = "/n/state/runc"');
    expect(config).toContain('netns_mounts_under_state_dir = true');
  });

  it('cannot raise oom_score_adj here, and takes its registry hosts from our directory', () => {
    expect(config).toContain('restrict_oom_score_adj = true');
    expect(config).toContain('config_path = "/n/certs.d"');
    expect(config).toContain(`sandbox_image = "${PAUSE_IMAGE}"`);
  });

  it('sends every pull to the local registry, with no upstream to fall back to', () => {
    const hosts = registryHostsToml('127.0.0.1:5999');
    const servers = [...hosts.matchAll(/^server = "([^"]+)"/gm)].map((m) => m[1]);
    const hostUrls = [...hosts.matchAll(/^\[host\."([^"]+)"\]/gm)].map((m) => m[1]);
    expect(servers).toEqual(['http://127.0.0.1:5999']);
    expect(hostUrls).toEqual(['http://127.0.0.1:5999']);
  });
});

describe('registry', () => {
  it('listens on loopback only, with no proxy to an upstream registry', () => {
    const yaml = registryConfig({ storageDir: '/r', port: 5001 });
    expect(yaml).toContain('addr: 127.0.0.1:5001');
    expect(yaml).toContain('rootdirectory: "/r"');
    expect(yaml).not.toMatch(/^proxy:/m);
  });
});

describe('kubelet', () => {
  const config = kubeletConfiguration({
    nodeName: 'n',
    rootDir: '/k',
    podLogsDir: '/logs',
    volumePluginDir: '/vp',
    containerdSocket: '/c.sock',
    clientCaFile: '/ca.crt',
    resolvConf: '/resolv.conf',
    port: 10250,
    healthzPort: 10248,
    cgroupRoot: '/tf',
  });

  it('works on this machine: cgroup v1 with cgroupfs, swap allowed', () => {
    expect(config).toMatchObject({
      cgroupDriver: 'cgroupfs',
      failCgroupV1: false,
      failSwapOn: false,
      cgroupRoot: '/tf',
      containerRuntimeEndpoint: 'unix:///c.sock',
    });
  });

  it('serves on the node IP, authenticates every caller, and uses our resolv.conf', () => {
    expect(config).toMatchObject({
      address: NODE_IP,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      authentication: { anonymous: { enabled: false }, x509: { clientCAFile: '/ca.crt' } },
      authorization: { mode: 'Webhook' },
      resolvConf: '/resolv.conf',
      podCIDR: NODE_SUBNET,
    });
  });

  it('registers with the node IP and its labels, keeping every path of its own', () => {
    const args = kubeletArgs({
      config: '/k.json',
      kubeconfig: '/kc',
      nodeName: 'n',
      rootDir: '/k',
      certDir: '/k/pki',
      labels: { a: '1', b: '2' },
    });
    expect(args).toContain(`--node-ip=${NODE_IP}`);
    expect(args).toContain('--root-dir=/k');
    expect(args).toContain('--node-labels=a=1,b=2');
  });
});

describe('kube-proxy', () => {
  it('changes no kernel settings and serves NodePorts on the node IP only', () => {
    const config = kubeProxyConfiguration({
      kubeconfig: '/kc',
      nodeName: 'n',
      metricsPort: 1,
      healthzPort: 2,
    });
    expect(config).toMatchObject({
      mode: 'iptables',
      nodePortAddresses: [`${NODE_IP}/32`],
      conntrack: { maxPerCore: 0, min: 0 },
      iptables: { localhostNodePorts: false },
      healthzBindAddress: '127.0.0.1:2',
      metricsBindAddress: '127.0.0.1:1',
    });
  });
});
