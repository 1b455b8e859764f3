/**
 * A real Kubernetes control plane on loopback, built from Go modules by
 * tools/cluster/build.sh: etcd + kube-apiserver, and on request
 * kube-controller-manager, kube-scheduler and kwok with simulated GPU nodes.
 * Used by the integration tests and by the operator's embedded default cluster.
 */
export {
  type ControlPlane,
  type ControlPlaneOptions,
  type KubectlResult,
  runKubectl,
  startControlPlane,
} from './controlplane.js';
export {
  type ClusterManifest,
  cacheDir,
  currentManifest,
  ensureBinaries,
  manifestPath,
} from './manifest.js';
export { installCrds } from './crds.js';
export { type ProcessMemory } from './memory.js';
export {
  A100,
  DEFAULT_NODES,
  GPU_PRODUCT_LABEL,
  GPU_RESOURCE,
  GPU_TAINT,
  H100,
  MIG_1G_10GB,
  nodeManifest,
  type SimulatedNode,
} from './nodes.js';
export {
  DRA_GPU_DRIVER,
  draGpuDeviceClass,
  draGpuNode,
  draGpuSlice,
  type SimulatedDraGpus,
} from './dra.js';
export { liveProcesses } from './process.js';
export {
  type PrometheusServer,
  type QueryResult,
  type ScrapeTarget,
  startPrometheus,
} from './prometheus.js';
