// ModelDeployments as users write them, and what users do with them: wait for
// Ready, find the Service, ask for predictions.
import { eventually, getJson } from './context.js';

export function modelDeployment(
  name: string,
  model: { uri: string; version: string },
  spec: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    apiVersion: 'tensorfleet.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name },
    spec: {
      model,
      resources: { requests: { cpu: '100m', memory: '256Mi' } },
      ...spec,
    },
  });
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface ModelStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  readyReplicas?: number;
  currentVersion?: string;
}

export async function modelStatus(namespace: string, name: string): Promise<ModelStatus> {
  const md = await getJson<{ status?: ModelStatus }>(['get', 'md', '-n', namespace, name]);
  return md.status ?? {};
}

export function condition(status: ModelStatus, type: string): Condition | undefined {
  return status.conditions?.find((c) => c.type === type);
}

/** Waits for Ready=True (kstatus: current generation observed), failing with the last status seen. */
export async function waitReady(
  namespace: string,
  name: string,
  timeoutMs = 180_000,
): Promise<ModelStatus> {
  let last: ModelStatus = {};
  try {
    return await eventually(
      `ModelDeployment ${namespace}/${name} to be Ready`,
      async () => {
        last = await modelStatus(namespace, name);
        return condition(last, 'Ready')?.status === 'True' ? last : undefined;
      },
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\nlast status: ${JSON.stringify(last.conditions)}`);
  }
}

/** http://<ClusterIP>:<port> of the model's Service. */
export async function serviceUrl(namespace: string, name: string): Promise<string> {
  const service = await getJson<{ spec: { clusterIP: string; ports: Array<{ port: number }> } }>([
    'get',
    'service',
    '-n',
    namespace,
    name,
  ]);
  return `http://${service.spec.clusterIP}:${service.spec.ports[0]?.port ?? 8501}`;
}

/** TF Serving REST predict, row format; throws on any answer but 200. */
export async function predict(url: string, model: string, instances: number[]): Promise<number[]> {
  const response = await fetch(`${url}/v1/models/${model}:predict`, {
    method: 'POST',
    body: JSON.stringify({ instances }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`predict: HTTP ${response.status}: ${text}`);
  return (JSON.parse(text) as { predictions: number[] }).predictions;
}

/**
 * Waits until the Service answers: Ready waits for the endpoints, and
 * kube-proxy programs them into the node's rules a moment later.
 */
export async function waitAnswering(url: string, model: string): Promise<void> {
  await eventually(
    `${url} to answer`,
    async () => (await predict(url, model, [0])).length > 0 || undefined,
    10_000,
  );
}
