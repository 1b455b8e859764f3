import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

import { inject } from 'vitest';

import { stdoutOrThrow } from '../support/kubectl.js';

import { runKubectl, type KubectlResult } from '../../src/localcluster/index.js';

/** What global-setup.ts hands every integration test file. */
export interface ClusterContext {
  readonly kubeconfigPath: string;
  /** The kubectl built with the cluster (matching the server's minor version). */
  readonly kubectl: string;
  readonly server: string;
  /** Working directory of the control plane; component logs are in logs/. */
  readonly dir: string;
  readonly kubernetesVersion: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterContext;
  }
}

export function cluster(): ClusterContext {
  return inject('cluster');
}

/** Runs the built kubectl against the shared test cluster. */
export function kubectl(args: readonly string[], input?: string): Promise<KubectlResult> {
  const { kubectl: binary, kubeconfigPath } = cluster();
  return runKubectl(binary, kubeconfigPath, args, input);
}

/** Like kubectl(), but throws with stderr on a non-zero exit. */
export async function kubectlOk(args: readonly string[], input?: string): Promise<string> {
  return stdoutOrThrow(args, await kubectl(args, input));
}

/**
 * Streams `kubectl get --watch` output (one line per stored version, in the
 * given jsonpath) until stopped: for asserting on states too brief to poll.
 */
export function watchLines(args: readonly string[]): { stop: () => string[] } {
  const { kubectl: binary, kubeconfigPath } = cluster();
  const child = spawn(binary, [`--kubeconfig=${kubeconfigPath}`, 'get', '--watch', ...args], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return {
    stop: () => {
      child.kill('SIGTERM');
      return out.split('\n').filter(Boolean);
    },
  };
}

/** Creates a namespace with a unique name for one test file; delete it with deleteNamespace. */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kubectlOk(['create', 'namespace', name]);
  return name;
}

export async function deleteNamespace(name: string): Promise<void> {
  await kubectlOk(['delete', 'namespace', name, '--wait=false', '--ignore-not-found']);
}

export { eventually } from '../support/eventually.js';
