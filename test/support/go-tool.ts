// The small Go programs under tools/ that tests run (kstatus, argocd-health,
// h2spec), built on first use into the cache by tools/go-tool.sh.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const GO_TOOL = fileURLToPath(new URL('../../tools/go-tool.sh', import.meta.url));

const built = new Map<string, Promise<string>>();

/** Builds tools/<tool> on first use and returns the binary's path. */
export function goTool(tool: 'kstatus' | 'argocd-health' | 'h2spec'): Promise<string> {
  let path = built.get(tool);
  if (path === undefined) {
    path = new Promise((resolve, reject) => {
      execFile('bash', [GO_TOOL, tool], { maxBuffer: 2 ** 20 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`tools/go-tool.sh ${tool}: ${stderr}`));
        else resolve(stdout.trim());
      });
    });
    built.set(tool, path);
  }
  return path;
}
