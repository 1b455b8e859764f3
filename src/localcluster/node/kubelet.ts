/**
 * Configuration of the real node's kubelet and kube-proxy: pure functions of
 * paths and ports, so every setting that makes them work on this machine is
 * reviewable (and unit-tested) in one place.
 */
import { NODE_IP, NODE_SUBNET } from './network.js';

export interface KubeletInput {
  readonly nodeName: string;
  readonly rootDir: string;
  readonly podLogsDir: string;
  readonly volumePluginDir: string;
  readonly containerdSocket: string;
  readonly clientCaFile: string;
  readonly resolvConf: string;
  readonly port: number;
  readonly healthzPort: number;
  /** cgroup (in every hierarchy) under which the kubelet puts every pod. */
  readonly cgroupRoot: string;
}

export function kubeletConfiguration(input: KubeletInput): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: NODE_IP,
    port: input.port,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: input.healthzPort,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: input.clientCaFile },
    },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${input.containerdSocket}`,
    // This machine mounts cgroup v1 hierarchies (with a v2 one beside them)
    // and runs no systemd.
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    cgroupRoot: input.cgroupRoot,
    failSwapOn: false,
    podCIDR: NODE_SUBNET,
    podLogsDir: input.podLogsDir,
    volumePluginDir: input.volumePluginDir,
    resolvConf: input.resolvConf,
    clusterDomain: 'cluster.local',
    staticPodPath: '',
    maxPods: 40,
    serializeImagePulls: false,
    // A shared test machine: never evict for disk or memory pressure the
    // tests did not cause, and never collect images the tests pull.
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '1%',
      'imagefs.available': '1%',
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // Fast feedback: the pod status and node heartbeats the tests watch.
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
    fileCheckFrequency: '10s',
    shutdownGracePeriod: '0s',
    rotateCertificates: false,
    serverTLSBootstrap: false,
    registerNode: true,
    enableControllerAttachDetach: true,
    localStorageCapacityIsolation: true,
  };
}

export function kubeletArgs(input: {
  readonly config: string;
  readonly kubeconfig: string;
  readonly nodeName: string;
  readonly rootDir: string;
  readonly certDir: string;
  readonly labels: Readonly<Record<string, string>>;
}): string[] {
  return [
    `--config=${input.config}`,
    `--kubeconfig=${input.kubeconfig}`,
    `--hostname-override=${input.nodeName}`,
    `--node-ip=${NODE_IP}`,
    `--root-dir=${input.rootDir}`,
    `--cert-dir=${input.certDir}`,
    `--node-labels=${Object.entries(input.labels)
      .map(([key, value]) => `${key}=${value}`)
      .join(',')}`,
    '--v=1',
  ];
}

export function kubeProxyConfiguration(input: {
  readonly kubeconfig: string;
  readonly nodeName: string;
  readonly metricsPort: number;
  readonly healthzPort: number;
}): Record<string, unknown> {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: input.kubeconfig },
    hostnameOverride: input.nodeName,
    bindAddress: NODE_IP,
    clusterCIDR: NODE_SUBNET,
    healthzBindAddress: `127.0.0.1:${input.healthzPort}`,
    metricsBindAddress: `127.0.0.1:${input.metricsPort}`,
    // NodePorts on the node IP only: no route_localnet, no other interface.
    nodePortAddresses: [`${NODE_IP}/32`],
    // 0 leaves the kernel's conntrack settings as they are.
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: '0s',
      tcpCloseWaitTimeout: '0s',
    },
    iptables: {
      masqueradeAll: false,
      localhostNodePorts: false,
      syncPeriod: '10s',
      minSyncPeriod: '0s',
    },
  };
}
