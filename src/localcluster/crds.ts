// Installs CustomResourceDefinitions and waits until the API server serves
// them, reading the CRD's own Established condition. `kubectl wait
// --for=condition=Established` is not used: it fails at once ("status.conditions
// accessor error") when it reads a CRD before the API server has written any
// condition, instead of waiting.
import type { KubectlResult } from './controlplane.js';
import { waitUntil } from './http.js';

type Kubectl = (args: readonly string[]) => Promise<KubectlResult>;

async function kubectlOk(kubectl: Kubectl, args: readonly string[]): Promise<string> {
  const result = await kubectl(args);
  if (result.code !== 0)
    throw new Error(`kubectl ${args.join(' ')}: ${(result.stderr || result.stdout).trim()}`);
  return result.stdout;
}

/** Whether the CRD's Established condition is True, from `kubectl get crd -o json` output. */
export function established(crdJson: string): boolean {
  const { status } = JSON.parse(crdJson) as {
    status?: { conditions?: Array<{ type: string; status: string }> };
  };
  return status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true;
}

/**
 * Applies the CRD files server-side (large CRDs exceed client-side apply's
 * annotation) and waits until every CRD they hold is Established; returns
 * the CRDs' names.
 */
export async function installCrds(
  kubectl: Kubectl,
  files: readonly string[],
  options: { fieldManager?: string; timeoutMs?: number } = {},
): Promise<string[]> {
  const applied = await kubectlOk(kubectl, [
    'apply',
    '--server-side',
    '--force-conflicts',
    ...(options.fieldManager === undefined ? [] : [`--field-manager=${options.fieldManager}`]),
    ...files.flatMap((f) => ['-f', f]),
    '-o',
    'name',
  ]);
  const crds = applied
    .split('\n')
    .map((line) => line.trim().replace(/^customresourcedefinition\.apiextensions\.k8s\.io\//, ''))
    .filter((name) => name !== '');
  for (const crd of crds) {
    await waitUntil(
      `CRD ${crd} to be Established`,
      async () => established(await kubectlOk(kubectl, ['get', 'crd', crd, '-o', 'json'])),
      { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 200 },
    );
  }
  return crds;
}
