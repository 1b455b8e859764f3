// What test/e2e/global-setup.ts hands every end-to-end test file, and helpers
// shared by them.
import { inject } from 'vitest';

import { stdoutOrThrow } from '../support/kubectl.js';

import {
  runKubectl,
  type ClusterManifest,
  type KubectlResult,
} from '../../src/localcluster/index.js';

export interface E2eContext {
  readonly kubeconfigPath: string;
  readonly kubectl: string;
  readonly helm: string;
  readonly server: string;
  readonly dir: string;
  /** host:port of the registry on loopback every image is pulled from. */
  readonly registry: string;
  /** The node IP: servers on the host that pods must reach listen here. */
  readonly nodeIp: string;
  /** Namespace the chart was installed into, and its release name. */
  readonly operatorNamespace: string;
  readonly release: string;
  /** What tools/cluster/build.sh built (binaries, CRDs). */
  readonly manifest: ClusterManifest;
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2eContext;
  }
}

export function e2e(): E2eContext {
  return inject('e2e');
}

export function kubectl(args: readonly string[], input?: string): Promise<KubectlResult> {
  const { kubectl: binary, kubeconfigPath } = e2e();
  return runKubectl(binary, kubeconfigPath, args, input);
}

export async function kubectlOk(args: readonly string[], input?: string): Promise<string> {
  return stdoutOrThrow(args, await kubectl(args, input));
}

export async function getJson<T>(args: readonly string[]): Promise<T> {
  return JSON.parse(await kubectlOk([...args, '-o', 'json'])) as T;
}
export { eventually } from '../support/eventually.js';
