/**
 * Command lines of the control-plane components. Pure functions of paths and
 * ports, so the flags are reviewable (and unit-tested) in one place.
 */

export const SERVICE_CIDR = '10.96.0.0/16';
/** First address of SERVICE_CIDR: the `kubernetes` Service's ClusterIP. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
/**
 * Addresses kwok gives simulated pods, and the InternalIP of every simulated
 * node: loopback, so that anything dialling a simulated pod or node (the
 * operator's pod scrapes, `kubectl logs`) stays on this machine.
 */
export const SIMULATED_POD_CIDR = '127.244.0.0/16';
export const SIMULATED_NODE_IP = '127.243.0.1';
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const LOOPBACK = '127.0.0.1';

export interface EtcdFlagsInput {
  readonly dataDir: string;
  readonly clientPort: number;
  readonly peerPort: number;
}

export function etcdArgs(input: EtcdFlagsInput): string[] {
  const client = `http://${LOOPBACK}:${input.clientPort}`;
  const peer = `http://${LOOPBACK}:${input.peerPort}`;
  return [
    '--name=tensorfleet',
    `--data-dir=${input.dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=tensorfleet=${peer}`,
    '--initial-cluster-state=new',
    // A throwaway cluster: durability is not worth the fsync latency.
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ];
}

export interface ApiserverFlagsInput {
  readonly etcdClientPort: number;
  readonly securePort: number;
  readonly certDir: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly clientCa: string;
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
  /**
   * Whether the ServiceAccount admission plugin runs. It rejects pods until
   * kube-controller-manager has created the namespace's `default`
   * ServiceAccount, so it is only enabled together with the controller manager.
   */
  readonly serviceAccountAdmission: boolean;
  /**
   * With a real node: the API server listens on the node's bridge address
   * (pods reach it through the `kubernetes` Service, whose endpoint it then
   * maintains), asks kubelets for logs and exec by their InternalIP with this
   * client certificate, rather than resolving node names through the
   * machine's nameserver.
   */
  readonly realNode?: {
    readonly address: string;
    readonly kubeletClientCert: string;
    readonly kubeletClientKey: string;
  };
}

export function apiserverArgs(input: ApiserverFlagsInput): string[] {
  return [
    `--etcd-servers=http://${LOOPBACK}:${input.etcdClientPort}`,
    `--bind-address=${input.realNode?.address ?? LOOPBACK}`,
    `--advertise-address=${input.realNode?.address ?? LOOPBACK}`,
    `--secure-port=${input.securePort}`,
    `--cert-dir=${input.certDir}`,
    `--tls-cert-file=${input.servingCert}`,
    `--tls-private-key-file=${input.servingKey}`,
    `--client-ca-file=${input.clientCa}`,
    '--authorization-mode=Node,RBAC',
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${input.serviceAccountPub}`,
    `--service-account-signing-key-file=${input.serviceAccountKey}`,
    ...(input.realNode === undefined
      ? // No kubelet or kube-proxy can serve the `kubernetes` Service endpoints here.
        ['--endpoint-reconciler-type=none']
      : [
          '--endpoint-reconciler-type=lease',
          '--kubelet-preferred-address-types=InternalIP',
          `--kubelet-client-certificate=${input.realNode.kubeletClientCert}`,
          `--kubelet-client-key=${input.realNode.kubeletClientKey}`,
        ]),
    '--allow-privileged=true',
    '--profiling=false',
    ...(input.serviceAccountAdmission ? [] : ['--disable-admission-plugins=ServiceAccount']),
  ];
}

export interface ControllerFlagsInput {
  readonly kubeconfig: string;
  readonly securePort: number;
  readonly certDir: string;
}

function controllerCommon(input: ControllerFlagsInput): string[] {
  return [
    `--kubeconfig=${input.kubeconfig}`,
    `--authentication-kubeconfig=${input.kubeconfig}`,
    `--authorization-kubeconfig=${input.kubeconfig}`,
    `--bind-address=${LOOPBACK}`,
    `--secure-port=${input.securePort}`,
    `--cert-dir=${input.certDir}`,
    // One instance: waiting to acquire a lease only slows the start.
    '--leader-elect=false',
  ];
}

export interface ControllerManagerFlagsInput extends ControllerFlagsInput {
  readonly caCert: string;
  readonly caKey: string;
  readonly serviceAccountKey: string;
}

export function controllerManagerArgs(input: ControllerManagerFlagsInput): string[] {
  return [
    ...controllerCommon(input),
    `--service-account-private-key-file=${input.serviceAccountKey}`,
    `--root-ca-file=${input.caCert}`,
    `--cluster-signing-cert-file=${input.caCert}`,
    `--cluster-signing-key-file=${input.caKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--use-service-account-credentials=false',
    '--controllers=*',
  ];
}

export function schedulerArgs(input: ControllerFlagsInput): string[] {
  return controllerCommon(input);
}

export interface KwokFlagsInput {
  readonly kubeconfig: string;
  readonly serverPort: number;
  readonly stageFiles: readonly string[];
  readonly nodeSelector: string;
}

export function kwokArgs(input: KwokFlagsInput): string[] {
  return [
    `--kubeconfig=${input.kubeconfig}`,
    `--server-address=${LOOPBACK}:${input.serverPort}`,
    `--manage-nodes-with-annotation-selector=${input.nodeSelector}`,
    `--cidr=${SIMULATED_POD_CIDR}`,
    // Nodes without an InternalIP of their own (and their hostNetwork pods) get this one.
    `--node-ip=${SIMULATED_NODE_IP}`,
    '--node-lease-duration-seconds=40',
    ...input.stageFiles.map((file) => `--config=${file}`),
  ];
}
