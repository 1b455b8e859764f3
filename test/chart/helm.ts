// Helpers for the chart tests: run the helm built into the cluster cache
// (tools/cluster/build.sh) and read what it renders.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

export const CHART_DIR = fileURLToPath(new URL('../../charts/tensorfleet', import.meta.url));

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

export interface RbacRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Helm keeps its caches and repository config here instead of in $HOME.
const helmHome = mkdtempSync(join(tmpdir(), 'tensorfleet-helm-'));
process.once('exit', () => rmSync(helmHome, { recursive: true, force: true }));

export function runHelm(
  helm: string,
  args: readonly string[],
  kubeconfig?: string,
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      helm,
      args,
      {
        maxBuffer: 64 * 2 ** 20,
        env: {
          PATH: process.env.PATH ?? '',
          HELM_CACHE_HOME: join(helmHome, 'cache'),
          HELM_CONFIG_HOME: join(helmHome, 'config'),
          HELM_DATA_HOME: join(helmHome, 'data'),
          ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}),
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export async function helmOk(
  helm: string,
  args: readonly string[],
  kubeconfig?: string,
): Promise<string> {
  const result = await runHelm(helm, args, kubeconfig);
  if (result.code !== 0) {
    throw new Error(`helm ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
  }
  return result.stdout;
}

/** Every object in a multi-document YAML stream (empty documents dropped). */
export function parseManifests(text: string): K8sObject[] {
  return yaml.loadAll(text).filter((d): d is K8sObject => typeof d === 'object' && d !== null);
}

let valuesFiles = 0;

/** Helm arguments that pass `values` as a values file (JSON is YAML). */
export function valuesArgs(values: Record<string, unknown>): string[] {
  const path = join(helmHome, `values-${++valuesFiles}.yaml`);
  writeFileSync(path, JSON.stringify(values));
  return ['-f', path];
}

export function find(objects: K8sObject[], kind: string, name?: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

export function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = find(objects, kind, name);
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  }
  return found[0]!;
}
