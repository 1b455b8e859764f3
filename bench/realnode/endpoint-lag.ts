// How long kube-proxy keeps sending new connections to a pod after its
// deletion: from the delete call until the Service's chain in the nat table no
// longer jumps to the pod's endpoint chain. The preStop pause must outlast it,
// or a pod that has drained and exited still gets connections (refused).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Whether some KUBE-SVC chain still jumps to the endpoint chain that DNATs to `ip`. */
export function routedTo(natRules: string, ip: string): boolean {
  const lines = natRules.split('\n');
  const endpointChains = new Set(
    lines
      .filter((l) => l.startsWith('-A KUBE-SEP-') && l.includes(`--to-destination ${ip}:`))
      .map((l) => l.split(' ')[1]),
  );
  return lines.some(
    (l) => l.startsWith('-A KUBE-SVC-') && endpointChains.has(l.split(' -j ').at(-1)?.trim()),
  );
}

async function natRules(): Promise<string> {
  return (await run('iptables-save', ['-t', 'nat'], { maxBuffer: 64 << 20 })).stdout;
}

/**
 * Deletes the pod (through `deletePod`) and returns the seconds until
 * kube-proxy stops routing to `ip`, polling the rules every 20 ms.
 */
export async function unroutingSeconds(
  ip: string,
  deletePod: () => Promise<void>,
  timeoutMs = 60_000,
): Promise<number> {
  if (!routedTo(await natRules(), ip)) throw new Error(`no Service routes to ${ip}`);
  const started = performance.now();
  await deletePod();
  while (routedTo(await natRules(), ip)) {
    if (performance.now() - started > timeoutMs)
      throw new Error(`${ip} still routed ${timeoutMs} ms after its pod's deletion`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return (performance.now() - started) / 1000;
}
