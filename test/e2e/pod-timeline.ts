// What the namespace's pods did while a load ran, on the load's clock: so a
// failed request can be placed beside the pod changes around it (a pod
// deleted, unready, restarted) instead of guessed at.
import { spawn } from 'node:child_process';

import { failureWindows, type LoadReport } from '../support/load.js';
import { e2e } from './context.js';

export interface PodTimeline {
  /** One line per change, `<ms> pod|slice <name> ...`, in the order seen. */
  stop(): string[];
}

const WATCHED = {
  pod:
    '{.metadata.name} ip={.status.podIP} phase={.status.phase}' +
    ' ready={.status.conditions[?(@.type=="Ready")].status}' +
    ' restarts={.status.containerStatuses[*].restartCount}' +
    ' deleting={.metadata.deletionTimestamp}{"\\n"}',
  // Each endpoint as address:ready/serving/terminating.
  endpointslice:
    '{.metadata.name}{range .endpoints[*]} {.addresses[0]}:' +
    '{.conditions.ready}/{.conditions.serving}/{.conditions.terminating}{end}{"\\n"}',
};

export function recordPods(namespace: string, elapsedMs: () => number): PodTimeline {
  const { kubectl, kubeconfigPath } = e2e();
  const lines: string[] = [];
  const watches = Object.entries(WATCHED).map(([kind, fields]) => {
    const watch = spawn(
      kubectl,
      ['get', kind, '-n', namespace, '--watch', '-o', `jsonpath=${fields}`],
      { env: { ...process.env, KUBECONFIG: kubeconfigPath }, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let partial = '';
    watch.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const at = elapsedMs();
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) if (line.trim() !== '') lines.push(`${at} ${kind} ${line}`);
    });
    return watch;
  });
  return {
    stop: () => {
      for (const watch of watches) watch.kill();
      return lines;
    },
  };
}

/** Prints the failures in runs beside the test's phases and the pod changes, on one clock. */
export function printFailureTimeline(
  report: LoadReport,
  phases: ReadonlyArray<readonly [string, number]>,
  pods: PodTimeline,
): void {
  process.stderr.write(
    `[e2e] phases (ms): ${JSON.stringify(phases)}\n` +
      `[e2e] failures (ms): ${JSON.stringify(failureWindows(report))}\n` +
      `[e2e] pods and endpoint slices (ms):\n${pods.stop().join('\n')}\n`,
  );
}
