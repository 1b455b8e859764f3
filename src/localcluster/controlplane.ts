import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import {
  apiserverArgs,
  controllerManagerArgs,
  etcdArgs,
  KUBERNETES_SERVICE_IP,
  kwokArgs,
  LOOPBACK,
  schedulerArgs,
  SERVICE_CIDR,
} from './flags.js';
import { HttpsClient, waitUntil } from './http.js';
import { renderKubeconfig } from './kubeconfig.js';
import { cacheDir, type ClusterManifest, ensureBinaries, KWOK_STAGES } from './manifest.js';
import { NODE_IP } from './node/network.js';
import {
  type PreparedNode,
  prepareRealNode,
  type RealNode,
  startRealNode,
} from './node/real-node.js';
import {
  DEFAULT_NODES,
  KWOK_NODE_ANNOTATION,
  KWOK_NODE_ANNOTATION_VALUE,
  nodeManifest,
  type SimulatedNode,
} from './nodes.js';
import { generatePki, type Pki } from './pki.js';
import { freePorts } from './ports.js';
import { type ManagedProcess, startProcess } from './process.js';
import { type ProcessMemory, processMemory } from './memory.js';

export interface ControlPlaneOptions {
  /** Working directory: pki/, etcd/, logs/, kubeconfig. Created if missing; etcd data is wiped on start. */
  readonly dir: string;
  /** etcd and kube-apiserver always run; these are opt-in. */
  readonly components?: {
    readonly controllerManager?: boolean;
    readonly scheduler?: boolean;
    readonly kwok?: boolean;
  };
  /**
   * Simulated nodes created (and made Ready by kwok) when kwok runs. Default:
   * DEFAULT_NODES, without the CPU-only one when a real node runs.
   */
  readonly nodes?: readonly SimulatedNode[];
  /**
   * A real node (containerd, kubelet, kube-proxy, a registry on loopback) beside
   * the simulated ones; needs root on Linux and `npm run images` (see node/real-node.ts).
   */
  readonly realNode?: boolean;
  /** Binaries and module-cache files; default: ensureBinaries(), which builds them when missing. */
  readonly manifest?: ClusterManifest;
  /** Per-component readiness timeout. */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface KubectlResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export interface ControlPlane {
  readonly dir: string;
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  readonly manifest: ClusterManifest;
  readonly pki: Pki;
  readonly processes: readonly ManagedProcess[];
  /** The real node, when one was asked for. */
  readonly realNode?: RealNode;
  /** Milliseconds from the call to each component being ready, and in total. */
  readonly timings: Readonly<Record<string, number>>;
  /** Runs the built kubectl against this cluster; never throws on a non-zero exit. */
  kubectl(
    args: readonly string[],
    options?: { input?: string; timeoutMs?: number },
  ): Promise<KubectlResult>;
  /** Current and peak resident memory of every component, from /proc. */
  memory(): ProcessMemory[];
  /** Stops every component (reverse start order) and waits for them to exit. Idempotent. */
  stop(): Promise<void>;
}

const KWOK_NODE_SELECTOR = `${KWOK_NODE_ANNOTATION}=${KWOK_NODE_ANNOTATION_VALUE}`;

/** GPUs and MIG slices: the resources that keep a simulated node when a real one runs. */
const isAccelerator = (resource: string): boolean => resource.startsWith('nvidia.com/');

/** A start attempt that failed because a port chosen for it was taken meanwhile. */
class PortTakenError extends Error {}

function assertRunning(process: ManagedProcess): void {
  const info = process.exitInfo();
  if (info === undefined) return;
  const tail = process.logTail(3000);
  const message =
    `${process.name} exited during start-up (${info.signal ?? `exit code ${String(info.code)}`}); ` +
    `log ${process.logPath}:\n${tail}`;
  if (/address already in use/i.test(tail)) throw new PortTakenError(message);
  throw new Error(message);
}

/**
 * Starts etcd and kube-apiserver on free loopback ports, then, on request,
 * kube-controller-manager, kube-scheduler and kwok with simulated nodes, and
 * resolves once every one is healthy. On any failure everything started so far
 * is stopped before the error propagates.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const began = Date.now();
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const components = options.components ?? {};
  const manifest = options.manifest ?? (await ensureBinaries({ log }));
  const dir = options.dir;
  const logs = join(dir, 'logs');
  const kubeconfigPath = join(dir, 'kubeconfig');
  await rm(join(dir, 'etcd'), { recursive: true, force: true });
  await mkdir(logs, { recursive: true });

  const processes: ManagedProcess[] = [];
  const timings: Record<string, number> = {};
  const clients: HttpsClient[] = [];
  let prepared: PreparedNode | undefined;
  let realNode: RealNode | undefined;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      for (const client of clients) client.close();
      await realNode?.stop();
      for (const process of [...processes].reverse()) await process.stop();
      // Last: the API server listened on the bridge this removes.
      await prepared?.release();
    })();
    return stopped;
  };

  /** Starts a component, retrying with fresh ports if one was taken in between. */
  async function startComponent(
    name: string,
    portCount: number,
    launch: (ports: number[]) => { command: string; args: string[] },
    ready: (ports: number[], process: ManagedProcess) => Promise<void>,
  ): Promise<number[]> {
    for (let attempt = 1; ; attempt++) {
      const ports = await freePorts(portCount);
      const { command, args } = launch(ports);
      const process = startProcess({ name, command, args, logPath: join(logs, `${name}.log`) });
      processes.push(process);
      try {
        await ready(ports, process);
        assertRunning(process);
        timings[name] = Date.now() - began;
        log(`[localcluster] ${name} ready after ${timings[name]} ms (log: ${process.logPath})`);
        return ports;
      } catch (error) {
        await process.stop(2000);
        processes.splice(processes.indexOf(process), 1);
        if (error instanceof PortTakenError && attempt < 3) continue;
        throw error;
      }
    }
  }

  try {
    if (options.realNode === true) {
      prepared = await prepareRealNode({ cache: cacheDir(), serviceCidr: SERVICE_CIDR });
    }
    const apiHost = prepared === undefined ? LOOPBACK : NODE_IP;
    const pki = await generatePki(
      join(dir, 'pki'),
      KUBERNETES_SERVICE_IP,
      prepared === undefined ? [] : [NODE_IP],
    );
    timings.pki = Date.now() - began;
    const insecure = new HttpsClient({});
    clients.push(insecure);
    const plainHttp = async (url: string): Promise<boolean> => {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      return response.ok;
    };

    const [etcdPort = 0] = await startComponent(
      'etcd',
      2,
      ([client = 0, peer = 0]) => ({
        command: manifest.binaries.etcd,
        args: etcdArgs({ dataDir: join(dir, 'etcd'), clientPort: client, peerPort: peer }),
      }),
      ([client], process) =>
        waitUntil('etcd /health', () => plainHttp(`http://${LOOPBACK}:${client}/health`), {
          timeoutMs,
          abort: () => assertRunning(process),
        }),
    );

    const admin = new HttpsClient({ ca: pki.caPem, cert: pki.adminCertPem, key: pki.adminKeyPem });
    clients.push(admin);
    const [apiPort = 0] = await startComponent(
      'kube-apiserver',
      1,
      ([port = 0]) => ({
        command: manifest.binaries.kubeApiserver,
        args: apiserverArgs({
          etcdClientPort: etcdPort,
          securePort: port,
          certDir: join(dir, 'kube-apiserver'),
          servingCert: pki.servingCert,
          servingKey: pki.servingKey,
          clientCa: pki.caCert,
          serviceAccountKey: pki.serviceAccountKey,
          serviceAccountPub: pki.serviceAccountPub,
          serviceAccountAdmission: components.controllerManager === true,
          ...(prepared === undefined
            ? {}
            : {
                realNode: {
                  address: NODE_IP,
                  kubeletClientCert: pki.adminCert,
                  kubeletClientKey: pki.adminKey,
                },
              }),
        }),
      }),
      ([port], process) =>
        waitUntil(
          'kube-apiserver /readyz',
          async () =>
            (await admin.send(`https://${apiHost}:${port}/readyz`, { timeoutMs: 5000 })).status ===
            200,
          { timeoutMs, abort: () => assertRunning(process) },
        ),
    );
    const server = `https://${apiHost}:${apiPort}`;
    await writeFile(
      kubeconfigPath,
      renderKubeconfig({
        name: 'tensorfleet-local',
        server,
        caPem: pki.caPem,
        clientCertPem: pki.adminCertPem,
        clientKeyPem: pki.adminKeyPem,
      }),
      { mode: 0o600 },
    );

    const healthz =
      (component: string, path: string) => (ports: number[], process: ManagedProcess) =>
        waitUntil(
          `${component} ${path}`,
          async () =>
            (await insecure.send(`https://${LOOPBACK}:${ports[0] ?? 0}${path}`)).status === 200,
          { timeoutMs, abort: () => assertRunning(process) },
        );
    const controllerInput = (name: string, port: number) => ({
      kubeconfig: kubeconfigPath,
      securePort: port,
      certDir: join(dir, name),
    });

    // The remaining components only talk to the API server: start them together.
    const pending: Array<Promise<unknown>> = [];
    if (components.controllerManager === true) {
      pending.push(
        startComponent(
          'kube-controller-manager',
          1,
          ([port = 0]) => ({
            command: manifest.binaries.kubeControllerManager,
            args: controllerManagerArgs({
              ...controllerInput('kube-controller-manager', port),
              caCert: pki.caCert,
              caKey: pki.caKey,
              serviceAccountKey: pki.serviceAccountKey,
            }),
          }),
          healthz('kube-controller-manager', '/healthz'),
        ),
      );
    }
    if (components.scheduler === true) {
      pending.push(
        startComponent(
          'kube-scheduler',
          1,
          ([port = 0]) => ({
            command: manifest.binaries.kubeScheduler,
            args: schedulerArgs(controllerInput('kube-scheduler', port)),
          }),
          healthz('kube-scheduler', '/readyz'),
        ),
      );
    }
    if (components.kwok === true) {
      pending.push(startKwok());
    }
    const results = await Promise.allSettled(pending);
    const failure = results.find(
      (result): result is PromiseRejectedResult => result.status === 'rejected',
    );
    if (failure !== undefined) throw failure.reason;

    async function startKwok(): Promise<void> {
      await startComponent(
        'kwok',
        1,
        ([port = 0]) => ({
          command: manifest.binaries.kwok,
          args: kwokArgs({
            kubeconfig: kubeconfigPath,
            serverPort: port,
            stageFiles: KWOK_STAGES.map((stage) => manifest.kwokStages[stage]),
            nodeSelector: KWOK_NODE_SELECTOR,
          }),
        }),
        ([port], process) =>
          waitUntil('kwok /healthz', () => plainHttp(`http://${LOOPBACK}:${port}/healthz`), {
            timeoutMs,
            abort: () => assertRunning(process),
          }),
      );
      const nodes =
        options.nodes ??
        (prepared === undefined
          ? DEFAULT_NODES
          : DEFAULT_NODES.filter((node) => Object.keys(node.resources).some(isAccelerator)));
      for (const node of nodes) {
        const response = await admin.send(`${server}/api/v1/nodes`, {
          method: 'POST',
          body: JSON.stringify(nodeManifest(node)),
        });
        if (response.status !== 201)
          throw new Error(`creating node ${node.name}: ${response.status} ${response.body}`);
      }
      const names = new Set(nodes.map((node) => node.name));
      await waitUntil(
        `simulated nodes ${[...names].join(', ')} to be Ready`,
        async () => {
          const response = await admin.send(`${server}/api/v1/nodes`);
          const list = JSON.parse(response.body) as {
            items?: Array<{
              metadata?: { name?: string };
              status?: { conditions?: Array<{ type?: string; status?: string }> };
            }>;
          };
          const ready = (list.items ?? []).filter(
            (item) =>
              names.has(item.metadata?.name ?? '') &&
              (item.status?.conditions ?? []).some(
                (c) => c.type === 'Ready' && c.status === 'True',
              ),
          );
          return ready.length === names.size;
        },
        { timeoutMs },
      );
      timings.nodes = Date.now() - began;
    }

    if (prepared !== undefined) {
      realNode = await startRealNode({
        prepared,
        cache: cacheDir(),
        manifest,
        pki,
        server,
        serviceCidr: SERVICE_CIDR,
        logsDir: logs,
        timeoutMs: Math.max(timeoutMs, 120_000),
        log,
      });
      timings.realNode = Date.now() - began;
    }

    timings.total = Date.now() - began;
    log(
      `[localcluster] control plane ready after ${timings.total} ms; kubeconfig ${kubeconfigPath}`,
    );

    return {
      dir,
      kubeconfigPath,
      server,
      manifest,
      pki,
      processes,
      ...(realNode === undefined ? {} : { realNode }),
      timings,
      kubectl: (args, kubectlOptions = {}) =>
        runKubectl(
          manifest.binaries.kubectl,
          kubeconfigPath,
          args,
          kubectlOptions.input,
          kubectlOptions.timeoutMs,
        ),
      memory: () => processes.map((process) => processMemory(process.name, process.pid)),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Runs `kubectl --kubeconfig <path> ...args`, resolving with its output and exit code. */
export function runKubectl(
  kubectl: string,
  kubeconfigPath: string,
  args: readonly string[],
  input?: string,
  timeoutMs = 60_000,
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      kubectl,
      [`--kubeconfig=${kubeconfigPath}`, ...args],
      {
        timeout: timeoutMs,
        maxBuffer: 32 << 20,
        env: { ...process.env, KUBECONFIG: kubeconfigPath },
      },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`kubectl ${args.join(' ')}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ stdout, stderr, code: error === null ? 0 : (error.code as number) });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}
