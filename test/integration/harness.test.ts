/**
 * startControlPlane beyond the shared cluster: the minimal etcd +
 * kube-apiserver set starts on its own ports, serves pods without a controller
 * manager (ServiceAccount admission off), and stop() leaves no process behind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  ensureBinaries,
  liveProcesses,
  startControlPlane,
  type ControlPlane,
} from '../../src/localcluster/index.js';
import { cluster } from './context.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let plane: ControlPlane | undefined;
let dir = '';
afterAll(async () => {
  await plane?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('startControlPlane with etcd and kube-apiserver only', () => {
  it('starts a second, independent cluster and stops it without leftovers', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tensorfleet-harness-'));
    plane = await startControlPlane({ dir, manifest: await ensureBinaries() });
    expect(plane.server).not.toBe(cluster().server);
    expect(plane.processes.map((process) => process.name)).toEqual(['etcd', 'kube-apiserver']);
    expect(plane.timings.total).toBeLessThan(15_000);

    const readyz = await plane.kubectl(['get', '--raw', '/readyz']);
    expect(readyz.stdout).toBe('ok');
    // No controller manager, so no default ServiceAccount: the pod is admitted only
    // because the ServiceAccount admission plugin is off.
    const pod = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'default' },
      spec: { containers: [{ name: 'c', image: 'example.invalid/c' }] },
    });
    const created = await plane.kubectl(['create', '-f', '-'], { input: pod });
    expect(created.stderr).toBe('');
    expect(created.stdout).toContain('pod/p created');
    const nodes = await plane.kubectl(['get', 'nodes', '-o', 'name']);
    expect(nodes.stdout).toBe('');

    const memory = plane.memory();
    expect(memory.every((entry) => entry.peakRssBytes > 0)).toBe(true);

    const pids = plane.processes.map((process) => process.pid);
    await plane.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(liveProcesses().filter((process) => pids.includes(process.pid))).toEqual([]);
  });
});
