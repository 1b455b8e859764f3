// Helpers for the operator's integration tests: an in-process operator
// watching one namespace, and typed reads of what it produced.
import { KubeConfig } from '@kubernetes/client-node';
import { DEFAULT_CONFIG } from '../../src/operator/config.js';
import type { OperatorConfig } from '../../src/operator/config.js';
import { createLogger, silentLogger } from '../../src/operator/logger.js';
import type { Logger } from '../../src/operator/logger.js';
import { Operator } from '../../src/operator/operator.js';
import type { ModelDeploymentStatus } from '../../src/api/v1alpha1/index.js';
import { cluster, eventually, kubectl, kubectlOk } from './context.js';

export function startOperator(
  namespace: string,
  overrides: Partial<OperatorConfig> = {},
  options: {
    missingCRDs?: string[];
    autoscalerIntervalMs?: number;
    versionsIntervalMs?: number;
    /** True where real runtimes listen at the kwok pods' loopback IPs (they are read then). */
    scrapePods?: boolean;
    logger?: Logger;
    identity?: string;
  } = {},
): Promise<Operator> {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster().kubeconfigPath);
  const operator = new Operator({
    config: {
      ...DEFAULT_CONFIG,
      watchNamespaces: [namespace],
      httpAddress: '127.0.0.1:0',
      workers: 2,
      runtimeImage: 'registry.example.com/tensorfleet/runtime:test',
      runtimeGpuImage: 'registry.example.com/tensorfleet/runtime-gpu:test',
      ...overrides,
    },
    kubeConfig: kc,
    // TENSORFLEET_TEST_OPERATOR_LOG=1 shows the operator's log, for debugging a test.
    logger: process.env['TENSORFLEET_TEST_OPERATOR_LOG'] ? createLogger('info') : silentLogger,
    defaultMetrics: false,
    // kwok pods have made-up IPs: tests send traffic to loopback only.
    scrapePods: false,
    ...options,
  });
  return operator.start().then(() => operator);
}

export interface ModelDeploymentJson {
  metadata: { name: string; uid: string; generation: number };
  spec: Record<string, unknown> & { replicas: number };
  status?: ModelDeploymentStatus;
}

export function modelDeploymentManifest(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'tensorfleet.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name },
    spec: { model: { uri: `s3://models/${name}/1/`, version: '1' }, ...spec },
  });
}

export async function apply(namespace: string, manifest: string): Promise<void> {
  await kubectlOk(['apply', '-n', namespace, '-f', '-'], manifest);
}

export async function getJson<T>(
  namespace: string,
  kind: string,
  name: string,
): Promise<T | undefined> {
  const r = await kubectl(['get', '-n', namespace, kind, name, '-o', 'json']);
  if (r.code !== 0) {
    if (/NotFound/.test(r.stderr)) return undefined;
    throw new Error(r.stderr);
  }
  return JSON.parse(r.stdout) as T;
}

export const condition = (md: ModelDeploymentJson | undefined, type: string) =>
  md?.status?.conditions?.find((c) => c.type === type);

/** Waits until the ModelDeployment's condition has the status (and reason, if given). */
export function waitForCondition(
  namespace: string,
  name: string,
  type: string,
  status: 'True' | 'False',
  reason?: string,
  timeoutMs = 60_000,
): Promise<ModelDeploymentJson> {
  return eventually(
    `${name} ${type}=${status}${reason ? ` (${reason})` : ''}`,
    async () => {
      const md = await getJson<ModelDeploymentJson>(namespace, 'md', name);
      const c = condition(md, type);
      const current = md?.status?.observedGeneration === md?.metadata.generation;
      return current && c?.status === status && (!reason || c.reason === reason) ? md : undefined;
    },
    timeoutMs,
  );
}

/** Sum of the operator's write requests to the API server, less the Lease's renewals. */
export async function writes(operator: Operator): Promise<number> {
  const m = await operator.metrics.apiWrites.get();
  return m.values
    .filter((v) => v.labels['resource'] !== 'leases')
    .reduce((sum, v) => sum + v.value, 0);
}
