// tensorfleet-operator: the process. Reads configuration (flags > env >
// ConfigMap > defaults), connects to the cluster (in-cluster, kubeconfig, or
// with --local-cluster=auto an embedded control plane), runs the operator and
// shuts down gracefully on SIGTERM/SIGINT.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { OperatorConfig } from './config.js';
import { resolveConfig, usage } from './config.js';
import { ConfigError } from '../cli/options.js';
import { KubeClient } from './kube/client.js';
import { RESOURCES } from './kube/types.js';
import type { KubeObject } from './kube/types.js';
import { createLogger, encoderFor, jsonEncoder } from './logger.js';
import type { Logger } from './logger.js';
import { Operator } from './operator.js';
import type { LocalCluster } from './local-cluster.js';
import { VERSION } from '../version.js';

/** True when a cluster is configured: in a pod, through $KUBECONFIG, or ~/.kube/config. */
export function clusterConfigured(env: NodeJS.ProcessEnv): boolean {
  if (env.KUBERNETES_SERVICE_HOST) return true;
  if (env.KUBECONFIG) return env.KUBECONFIG.split(':').some((p) => p && existsSync(p));
  return existsSync(join(homedir(), '.kube', 'config'));
}

async function configMapSettings(kc: KubeConfig, ref: string): Promise<Record<string, string>> {
  const [namespace, name] = ref.includes('/') ? ref.split('/', 2) : ['', ref];
  if (!namespace || !name) {
    throw new ConfigError(`--config-map (${JSON.stringify(ref)}) must be namespace/name`);
  }
  const client = new KubeClient(kc);
  try {
    const cm = await client.get<KubeObject & { data?: Record<string, string> }>(
      RESOURCES.configMap,
      name,
      namespace,
    );
    return cm.data ?? {};
  } finally {
    client.close();
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage());
    return 0;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`tensorfleet-operator ${VERSION}\n`);
    return 0;
  }
  // A bad flag, variable or value throws ConfigError: exit status 2.
  let config: OperatorConfig = resolveConfig(argv, process.env);
  let logger = operatorLogger(config);

  const kc = new KubeConfig();
  let local: LocalCluster | undefined;
  if (clusterConfigured(process.env)) {
    if (config.realNode) {
      throw new ConfigError(
        'real-node adds a node to the embedded cluster, which starts only when no cluster is configured (unset KUBECONFIG)',
      );
    }
    kc.loadFromDefault();
  } else if (config.localCluster === 'auto') {
    const { startLocalCluster } = await import('./local-cluster.js');
    local = await startLocalCluster(logger, { realNode: config.realNode });
    kc.loadFromFile(local.kubeconfigPath);
  } else {
    throw new ConfigError(
      'no cluster configured: run in a pod, set KUBECONFIG, or pass --local-cluster=auto for an embedded one',
    );
  }
  if (config.configMap) {
    const data = await configMapSettings(kc, config.configMap);
    config = resolveConfig(argv, process.env, { name: config.configMap, data });
    logger = operatorLogger(config);
  }

  // Simulated pods serve nothing (their loopback addresses lead nowhere):
  // the embedded cluster's pods are scraped only when they run for real.
  const operator = new Operator({
    config,
    kubeConfig: kc,
    logger,
    scrapePods: local === undefined || config.realNode,
  });
  let exitCode = 0;
  const done = new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info('shutting down', { signal });
      resolve();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    operator.onLostLeadership = () => {
      exitCode = 1;
      resolve();
    };
  });
  // start() waits for the first sync of every cache, which never comes while,
  // say, the CRD is missing: a signal meanwhile must still stop the process.
  const started = await Promise.race([operator.start().then(() => true), done.then(() => false)]);
  if (started) {
    logger.info('operator started', {
      identity: operator.identity,
      http: `${config.httpAddress.split(':')[0]}:${operator.httpPort}`,
      namespaces: config.watchNamespaces.length ? config.watchNamespaces : 'all',
      leaderElect: config.leaderElect,
    });
    void local?.showModels();
    await done;
  }
  await operator.stop();
  await local?.stop();
  return exitCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(
      JSON.stringify({
        time: new Date().toISOString(),
        level: 'error',
        msg: 'operator failed',
        error: message,
      }) + '\n',
    );
    process.exit(err instanceof ConfigError ? 2 : 1);
  },
);

/** JSON lines name their component (log pipelines mix sources); console lines leave it out. */
function operatorLogger(config: OperatorConfig): Logger {
  const encode = encoderFor(config.logFormat);
  const base = encode === jsonEncoder ? { component: 'tensorfleet-operator' } : {};
  return createLogger(config.logLevel, base, undefined, encode);
}
