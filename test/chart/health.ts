// Runs the Argo CD health check (deploy/argocd) on gopher-lua, as Argo CD does
// (tools/argocd-health), and kstatus (tools/kstatus, sigs.k8s.io/cli-utils) on
// the same objects.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { goTool } from '../support/go-tool.js';

export const HEALTH_DIR = fileURLToPath(
  new URL(
    '../../deploy/argocd/resource_customizations/tensorfleet.dev/ModelDeployment/',
    import.meta.url,
  ),
);
export const HEALTH_LUA = `${HEALTH_DIR}health.lua`;

export interface Verdict {
  status: string;
  message: string;
}

function run(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`));
    });
    child.stdin?.end(input);
  });
}

/**
 * Argo CD's verdict: the check run by gopher-lua, the interpreter Argo CD
 * embeds, with the object as the global `obj` (tools/argocd-health).
 */
export async function argoHealth(object: unknown): Promise<Verdict> {
  const out = await run(await goTool('argocd-health'), [HEALTH_LUA], JSON.stringify([object]));
  return (JSON.parse(out) as Verdict[])[0]!;
}

export async function kstatus(objects: unknown[]): Promise<Verdict[]> {
  const out = await run(await goTool('kstatus'), [], JSON.stringify(objects));
  return JSON.parse(out) as Verdict[];
}

/** The kstatus status that means the same as each Argo CD health status. */
export const KSTATUS_FOR: Record<string, string> = {
  Healthy: 'Current',
  Progressing: 'InProgress',
  Degraded: 'Failed',
};
