/**
 * Measures the local control plane: warm start of etcd + kube-apiserver, warm
 * start of the full set (plus kube-controller-manager, kube-scheduler, kwok and
 * the simulated nodes), and the peak resident memory of every component after
 * a Deployment has been scheduled onto a simulated GPU node.
 *
 *   npx tsx bench/control-plane.ts
 *
 * Figures are recorded in docs/control-plane.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ensureBinaries, startControlPlane, type ControlPlane } from '../src/localcluster/index.js';

const MiB = 1024 * 1024;

function report(label: string, plane: ControlPlane): void {
  const memory = plane.memory();
  const total = memory.reduce((sum, process) => sum + process.peakRssBytes, 0);
  console.log(`${label}: ready in ${(plane.timings.total ?? 0) / 1000} s`, plane.timings);
  for (const process of memory) {
    console.log(
      `  ${process.name.padEnd(24)} rss ${(process.rssBytes / MiB).toFixed(0)} MiB, peak ${(process.peakRssBytes / MiB).toFixed(0)} MiB`,
    );
  }
  console.log(`  sum of peaks: ${(total / MiB).toFixed(0)} MiB`);
}

const manifest = await ensureBinaries();
const runs = Number(process.env.RUNS ?? '3');
for (let run = 1; run <= runs; run++) {
  const minimal = await mkdtemp(join(tmpdir(), 'tensorfleet-bench-'));
  const plane = await startControlPlane({ dir: minimal, manifest });
  report(`run ${run} etcd + kube-apiserver`, plane);
  await plane.stop();
  await rm(minimal, { recursive: true, force: true });

  const fullDir = await mkdtemp(join(tmpdir(), 'tensorfleet-bench-'));
  const full = await startControlPlane({
    dir: fullDir,
    manifest,
    components: { controllerManager: true, scheduler: true, kwok: true },
  });
  try {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'gpu-probe', namespace: 'default' },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: 'gpu-probe' } },
        template: {
          metadata: { labels: { app: 'gpu-probe' } },
          spec: {
            tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
            containers: [
              {
                name: 'c',
                image: 'example.invalid/probe',
                resources: { limits: { 'nvidia.com/gpu': '1' } },
              },
            ],
          },
        },
      },
    };
    const started = Date.now();
    const applied = await full.kubectl(['apply', '-f', '-'], { input: JSON.stringify(deployment) });
    if (applied.code !== 0) throw new Error(applied.stderr);
    const waited = await full.kubectl([
      'rollout',
      'status',
      'deployment/gpu-probe',
      '--timeout=60s',
    ]);
    if (waited.code !== 0) throw new Error(waited.stderr + waited.stdout);
    const listed = await full.kubectl(['get', 'pods', '-l', 'app=gpu-probe', '-o', 'json']);
    const pods = (
      JSON.parse(listed.stdout) as {
        items: Array<{ spec: { nodeName?: string }; status: { phase?: string } }>;
      }
    ).items;
    const running = pods.filter(
      (pod) => pod.status.phase === 'Running' && pod.spec.nodeName?.startsWith('gpu-'),
    );
    if (running.length !== 4)
      throw new Error(`expected 4 running GPU pods, got ${JSON.stringify(pods)}`);
    console.log(`run ${run}: 4 GPU pods Ready ${(Date.now() - started) / 1000} s after apply`);
    report(`run ${run} full set`, full);
  } finally {
    await full.stop();
    await rm(fullDir, { recursive: true, force: true });
  }
}
