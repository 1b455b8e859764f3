/**
 * A real node beside the simulated ones: containerd (CRI, runc, CNI bridge),
 * a kubelet and kube-proxy, pulling every image from a registry on loopback.
 * Runs as root on Linux; one per machine (a lock), and whatever a previous run
 * left behind (it may have crashed) is removed before a new one starts.
 *
 * Two steps, because the control plane sits between them: `prepareRealNode`
 * makes the bridge before the API server starts (it listens on the node IP so
 * that pods reach it), `startRealNode` starts the node's components once the
 * API server is up.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { HttpsClient, waitUntil } from '../http.js';
import { renderKubeconfig } from '../kubeconfig.js';
import type { ClusterManifest } from '../manifest.js';
import { type Pki, signedByCa } from '../pki.js';
import { freePorts } from '../ports.js';
import { type ManagedProcess, startProcess } from '../process.js';
import { containerdConfig, registryHostsToml } from './containerd.js';
import {
  cniBinDir,
  createCgroup,
  holdLock,
  killCgroup,
  killProcessesMentioning,
  missingPrerequisites,
  readSysctls,
  removeTree,
  restoreSysctls,
  setUpNetwork,
  sh,
  tearDownNetwork,
} from './host.js';
import { kubeletArgs, kubeletConfiguration, kubeProxyConfiguration } from './kubelet.js';
import { cniConfig, NODE_IP, POD_RESOLV_CONF } from './network.js';
import { pushImage, readImagesManifest, registryConfig } from './registry.js';

export const REAL_NODE_NAME = 'local-0';
export const REAL_NODE_LABEL = 'tensorfleet.dev/real-node';
/** cgroup under which the kubelet puts every pod (in each hierarchy). */
export const POD_CGROUP_ROOT = '/tensorfleet-node';

/** Fixed places, so a run that crashed is cleaned up by the next one. */
export function nodePaths(cache: string) {
  const dir = join(cache, 'node');
  const run = join(dir, 'run');
  return {
    dir,
    lock: join(dir, 'lock'),
    /** What must be restored after a crash (the kernel settings as they were). */
    state: join(dir, 'state.json'),
    /** Registry blobs: kept, so unchanged images are not pushed again. */
    registry: join(dir, 'registry'),
    run,
    containerdRoot: join(run, 'containerd', 'root'),
    containerdState: join(run, 'containerd', 'state'),
    containerdSocket: join(run, 'containerd', 'containerd.sock'),
    registryHosts: join(run, 'containerd', 'certs.d'),
    cniConf: join(run, 'cni', 'net.d'),
    ipam: join(run, 'cni', 'ipam'),
    kubeletRoot: join(run, 'kubelet'),
    podLogs: join(run, 'pod-logs'),
    volumePlugins: join(run, 'volume-plugins'),
    config: join(run, 'config'),
  };
}
export type NodePaths = ReturnType<typeof nodePaths>;

interface SavedState {
  readonly sysctls: Record<string, string>;
}

/**
 * Undoes everything a real node changes on the host, whether the last one
 * stopped cleanly or not: its processes (pods, shims, containerd), its
 * mounts and files, its network, and the kernel settings the kubelet changed.
 */
export async function cleanHost(paths: NodePaths): Promise<void> {
  await killCgroup(POD_CGROUP_ROOT);
  await killProcessesMentioning(paths.run);
  await removeTree(paths.run);
  await tearDownNetwork();
  const saved = await readFile(paths.state, 'utf8').catch(() => undefined);
  if (saved !== undefined) {
    await restoreSysctls((JSON.parse(saved) as SavedState).sysctls);
    await rm(paths.state, { force: true });
  }
}

export interface PreparedNode {
  readonly paths: NodePaths;
  /** Removes everything the node changed on the host and releases the lock. Idempotent. */
  release(): Promise<void>;
}

/** Takes the machine's lock, cleans up after any earlier run, and makes the network. */
export async function prepareRealNode(input: {
  readonly cache: string;
  readonly serviceCidr: string;
}): Promise<PreparedNode> {
  const missing = await missingPrerequisites();
  if (missing.length > 0) {
    throw new Error(`a real node needs: ${missing.join('; ')}`);
  }
  const paths = nodePaths(input.cache);
  await mkdir(paths.dir, { recursive: true });
  const unlock = await holdLock(paths.lock, 'a Tensorfleet real node');
  try {
    await cleanHost(paths);
    const state: SavedState = { sysctls: await readSysctls() };
    await writeFile(paths.state, JSON.stringify(state));
    await setUpNetwork(input.serviceCidr);
  } catch (error) {
    await cleanHost(paths).catch(() => undefined);
    unlock();
    throw error;
  }
  let released: Promise<void> | undefined;
  return {
    paths,
    release: () => {
      released ??= cleanHost(paths).finally(unlock);
      return released;
    },
  };
}

export interface RealNode {
  readonly name: string;
  /** host:port of the registry every image is pulled from. */
  readonly registry: string;
  readonly processes: readonly ManagedProcess[];
  /** Stops kube-proxy, the kubelet, every pod and containerd, then the registry. */
  stop(): Promise<void>;
}

export interface RealNodeInput {
  readonly prepared: PreparedNode;
  readonly cache: string;
  readonly manifest: ClusterManifest;
  readonly pki: Pki;
  /** The API server's URL (on the node IP). */
  readonly server: string;
  readonly serviceCidr: string;
  readonly logsDir: string;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
}

export async function startRealNode(input: RealNodeInput): Promise<RealNode> {
  const { paths } = input.prepared;
  const began = Date.now();
  const processes: ManagedProcess[] = [];
  const clients: HttpsClient[] = [];
  const stop = async (): Promise<void> => {
    for (const client of clients) client.close();
    for (const process of [...processes].reverse()) await process.stop(5000);
    // Pods and shims outlive containerd: their cgroup and socket find them.
    await killCgroup(POD_CGROUP_ROOT);
    await killProcessesMentioning(paths.run);
  };
  const start = (name: string, command: string, args: string[]): ManagedProcess => {
    const process = startProcess({
      name,
      command,
      args,
      logPath: join(input.logsDir, `${name}.log`),
    });
    processes.push(process);
    return process;
  };
  const alive = (process: ManagedProcess) => () => {
    const info = process.exitInfo();
    if (info !== undefined) {
      throw new Error(
        `${process.name} exited during start-up (${info.signal ?? `exit code ${String(info.code)}`}); log ${process.logPath}:\n${process.logTail(3000)}`,
      );
    }
  };
  const plain = async (url: string): Promise<boolean> =>
    (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;

  try {
    for (const dir of [
      paths.registry,
      paths.containerdRoot,
      paths.containerdState,
      paths.registryHosts,
      paths.cniConf,
      paths.ipam,
      paths.kubeletRoot,
      paths.podLogs,
      paths.volumePlugins,
      paths.config,
    ]) {
      await mkdir(dir, { recursive: true });
    }
    const [
      registryPort = 0,
      kubeletPort = 0,
      kubeletHealthz = 0,
      proxyHealthz = 0,
      proxyMetrics = 0,
    ] = await freePorts(5);

    // Registry, and every image built here pushed into it.
    const registry = `127.0.0.1:${registryPort}`;
    const registryYaml = join(paths.config, 'registry.yaml');
    await writeFile(
      registryYaml,
      registryConfig({ storageDir: paths.registry, port: registryPort }),
    );
    const registryProcess = start('registry', input.manifest.binaries.registry, [
      'serve',
      registryYaml,
    ]);
    await waitUntil('registry /v2/', () => plain(`http://${registry}/v2/`), {
      timeoutMs: input.timeoutMs,
      abort: alive(registryProcess),
    });
    const images = await readImagesManifest(input.cache);
    await Promise.all(images.images.map((image) => pushImage(registry, image)));
    input.log(
      `[localcluster] registry ${registry}: pushed ${images.images.map((i) => `${i.name}:${i.tag}`).join(', ')} after ${Date.now() - began} ms`,
    );

    // containerd.
    await mkdir(join(paths.registryHosts, '_default'), { recursive: true });
    await writeFile(
      join(paths.registryHosts, '_default', 'hosts.toml'),
      registryHostsToml(registry),
    );
    await writeFile(
      join(paths.cniConf, '10-tensorfleet.conflist'),
      JSON.stringify(
        cniConfig({ serviceCidr: input.serviceCidr, ipamDataDir: paths.ipam }),
        null,
        2,
      ),
    );
    const containerdToml = join(paths.config, 'containerd.toml');
    await writeFile(
      containerdToml,
      containerdConfig({
        root: paths.containerdRoot,
        state: paths.containerdState,
        socket: paths.containerdSocket,
        cniConfDir: paths.cniConf,
        cniBinDir: cniBinDir(),
        registryConfigDir: paths.registryHosts,
        runc: (await sh('sh', ['-c', 'command -v runc'])).trim(),
      }),
    );
    const containerd = start('containerd', 'containerd', [
      '--config',
      containerdToml,
      '--log-level',
      'warn',
    ]);
    await waitUntil(
      'containerd',
      async () => {
        await sh('ctr', ['--address', paths.containerdSocket, 'version']);
        return true;
      },
      { timeoutMs: input.timeoutMs, abort: alive(containerd) },
    );

    // kubelet and kube-proxy, each with a client certificate of its own.
    const ca = { cert: input.pki.caCert, key: input.pki.caKey };
    const [kubeletCert, proxyCert] = await Promise.all([
      signedByCa(input.pki.dir, 'kubelet', ca, {
        commonName: `system:node:${REAL_NODE_NAME}`,
        organizations: ['system:nodes'],
        usage: 'client',
      }),
      signedByCa(input.pki.dir, 'kube-proxy', ca, {
        commonName: 'system:kube-proxy',
        usage: 'client',
      }),
    ]);
    const kubeconfigFor = async (
      name: string,
      cert: { cert: string; key: string },
    ): Promise<string> => {
      const path = join(paths.config, `${name}.kubeconfig`);
      await writeFile(
        path,
        renderKubeconfig({
          name,
          server: input.server,
          caPem: input.pki.caPem,
          clientCertPem: await readFile(cert.cert, 'utf8'),
          clientKeyPem: await readFile(cert.key, 'utf8'),
        }),
        { mode: 0o600 },
      );
      return path;
    };
    const resolvConf = join(paths.config, 'resolv.conf');
    await writeFile(resolvConf, POD_RESOLV_CONF);
    const kubeletYaml = join(paths.config, 'kubelet.json');
    await writeFile(
      kubeletYaml,
      JSON.stringify(
        kubeletConfiguration({
          nodeName: REAL_NODE_NAME,
          rootDir: paths.kubeletRoot,
          podLogsDir: paths.podLogs,
          volumePluginDir: paths.volumePlugins,
          containerdSocket: paths.containerdSocket,
          clientCaFile: input.pki.caCert,
          resolvConf,
          port: kubeletPort,
          healthzPort: kubeletHealthz,
          cgroupRoot: POD_CGROUP_ROOT,
        }),
      ),
    );
    await createCgroup(POD_CGROUP_ROOT);
    const kubelet = start(
      'kubelet',
      input.manifest.binaries.kubelet,
      kubeletArgs({
        config: kubeletYaml,
        kubeconfig: await kubeconfigFor('kubelet', kubeletCert),
        nodeName: REAL_NODE_NAME,
        rootDir: paths.kubeletRoot,
        certDir: join(paths.kubeletRoot, 'pki'),
        labels: { [REAL_NODE_LABEL]: 'true' },
      }),
    );
    const proxyYaml = join(paths.config, 'kube-proxy.json');
    await writeFile(
      proxyYaml,
      JSON.stringify(
        kubeProxyConfiguration({
          kubeconfig: await kubeconfigFor('kube-proxy', proxyCert),
          nodeName: REAL_NODE_NAME,
          healthzPort: proxyHealthz,
          metricsPort: proxyMetrics,
        }),
      ),
    );
    const proxy = start('kube-proxy', input.manifest.binaries.kubeProxy, [
      `--config=${proxyYaml}`,
      '--v=1',
    ]);

    const admin = new HttpsClient({
      ca: input.pki.caPem,
      cert: input.pki.adminCertPem,
      key: input.pki.adminKeyPem,
    });
    clients.push(admin);
    await waitUntil(
      `node ${REAL_NODE_NAME} to be Ready`,
      async () => {
        const response = await admin.send(`${input.server}/api/v1/nodes/${REAL_NODE_NAME}`);
        if (response.status !== 200) return false;
        const node = JSON.parse(response.body) as {
          status?: { conditions?: Array<{ type?: string; status?: string }> };
        };
        return (node.status?.conditions ?? []).some(
          (c) => c.type === 'Ready' && c.status === 'True',
        );
      },
      {
        timeoutMs: input.timeoutMs,
        abort: () => {
          alive(kubelet)();
          alive(proxy)();
          alive(containerd)();
        },
      },
    );
    await waitUntil(
      'kube-proxy /healthz',
      () => plain(`http://127.0.0.1:${proxyHealthz}/healthz`),
      {
        timeoutMs: input.timeoutMs,
        abort: alive(proxy),
      },
    );
    input.log(
      `[localcluster] real node ${REAL_NODE_NAME} (${NODE_IP}) Ready after ${Date.now() - began} ms`,
    );
    return { name: REAL_NODE_NAME, registry, processes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
