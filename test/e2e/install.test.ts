/**
 * `helm install` of the chart, as a user runs it: the operator runs in pods on
 * the real node, from the image built here and pulled from the registry on
 * loopback, under the chart's ServiceAccount in a namespace that enforces the
 * restricted Pod Security Standard, with exactly one leader among its replicas.
 */
import { describe, expect, it } from 'vitest';

import { cacheDir } from '../../src/localcluster/index.js';
import { readImagesManifest } from '../../src/localcluster/node/registry.js';
import { e2e, eventually, getJson, kubectl } from './context.js';

interface Pod {
  metadata: { name: string };
  spec: { nodeName?: string; serviceAccountName?: string; containers: Array<{ image: string }> };
  status: {
    phase?: string;
    conditions?: Array<{ type: string; status: string }>;
    containerStatuses?: Array<{ imageID: string; ready: boolean }>;
  };
}

async function operatorPods(): Promise<Pod[]> {
  const { operatorNamespace, release } = e2e();
  const list = await getJson<{ items: Pod[] }>([
    'get',
    'pods',
    '-n',
    operatorNamespace,
    '-l',
    `app.kubernetes.io/instance=${release}`,
  ]);
  return list.items;
}

describe('helm install', () => {
  it('runs the operator in pods on the real node, from the image built here, under its ServiceAccount', async () => {
    const pods = await operatorPods();
    expect(pods).toHaveLength(2);
    const built = (await readImagesManifest(cacheDir())).images.find(
      (i) => i.name === 'tensorfleet/operator',
    );
    expect(built).toBeDefined();
    for (const pod of pods) {
      expect(pod.spec.nodeName).toBe('local-0');
      expect(pod.spec.serviceAccountName).toBe(e2e().release);
      expect(pod.spec.containers[0]?.image).toMatch(/\/tensorfleet\/operator:/);
      // The digest pulled is the digest built.
      expect(pod.status.containerStatuses?.[0]?.imageID).toContain(built?.digest ?? 'missing');
      expect(pod.status.containerStatuses?.[0]?.ready).toBe(true);
    }
  });

  it('is admitted where the restricted Pod Security Standard is enforced', async () => {
    const ns = await getJson<{ metadata: { labels: Record<string, string> } }>([
      'get',
      'namespace',
      e2e().operatorNamespace,
    ]);
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    // A pod that breaks the standard is refused there, so the operator's were checked.
    const refused = await kubectl([
      'run',
      'privileged',
      '-n',
      e2e().operatorNamespace,
      '--image=ghcr.io/tensorfleet/operator:0.1.0',
      '--overrides={"spec":{"containers":[{"name":"privileged","image":"ghcr.io/tensorfleet/operator:0.1.0","securityContext":{"privileged":true}}]}}',
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('violates PodSecurity "restricted');
  });

  it('elects exactly one leader among its replicas', async () => {
    const pods = await operatorPods();
    const names = pods.map((pod) => pod.metadata.name);
    const lease = await eventually('a leader', async () => {
      const leases = await getJson<{
        items: Array<{ metadata: { name: string }; spec: { holderIdentity?: string } }>;
      }>(['get', 'leases', '-n', e2e().operatorNamespace]);
      return leases.items.find((l) =>
        names.some((name) => l.spec.holderIdentity?.startsWith(name)),
      );
    });
    const holders = names.filter((name) => lease.spec.holderIdentity?.startsWith(name));
    expect(holders).toHaveLength(1);
  });
});
