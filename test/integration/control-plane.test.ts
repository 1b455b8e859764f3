/**
 * The control plane itself: real versions, the third-party CRDs read from the
 * Go module cache validate objects, and the built kubectl pairs with the server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cluster, createNamespace, deleteNamespace, kubectl, kubectlOk } from './context.js';

let namespace = '';
beforeAll(async () => {
  namespace = await createNamespace('cp');
});
afterAll(async () => {
  if (namespace !== '') await deleteNamespace(namespace);
});

describe('the local control plane', () => {
  it('serves /version as the pinned Kubernetes release, and kubectl matches it', async () => {
    const { kubernetesVersion } = cluster();
    expect(kubernetesVersion).toMatch(/^v1\.\d+\.\d+$/);
    const version = JSON.parse(await kubectlOk(['version', '-o', 'json'])) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string; major: string; minor: string };
    };
    expect(version.serverVersion.gitVersion).toBe(kubernetesVersion);
    expect(version.clientVersion.gitVersion).toBe(kubernetesVersion);
    expect(`v${version.serverVersion.major}.${version.serverVersion.minor}.`).toBe(
      kubernetesVersion.replace(/\d+$/, ''),
    );
  });

  it('is healthy and answers on loopback only', async () => {
    expect(cluster().server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await kubectlOk(['get', '--raw', '/readyz'])).toBe('ok');
  });

  it('runs the controller manager: new namespaces get a default ServiceAccount', async () => {
    const found = await kubectl([
      'wait',
      '-n',
      namespace,
      '--for=create',
      'serviceaccount/default',
      '--timeout=30s',
    ]);
    expect(found.code).toBe(0);
  });
});

describe('third-party CRDs from the Go module cache', () => {
  const serviceMonitor = (endpoints: unknown): string =>
    JSON.stringify({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'probe', labels: { release: 'prometheus' } },
      spec: { selector: { matchLabels: { app: 'probe' } }, endpoints },
    });

  it('ServiceMonitor accepts a valid object and rejects a malformed one', async () => {
    const ok = await kubectl(
      ['create', '-n', namespace, '--dry-run=server', '-f', '-'],
      serviceMonitor([{ port: 'http', interval: '15s' }]),
    );
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain(
      'servicemonitor.monitoring.coreos.com/probe created (server dry run)',
    );
    const bad = await kubectl(
      ['create', '-n', namespace, '--dry-run=server', '-f', '-'],
      serviceMonitor([{ port: 'http', interval: 'often' }]),
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('spec.endpoints[0].interval');
  });

  it('ScaledObject accepts a valid object and rejects one without scaleTargetRef', async () => {
    const scaledObject = (spec: Record<string, unknown>): string =>
      JSON.stringify({
        apiVersion: 'keda.sh/v1alpha1',
        kind: 'ScaledObject',
        metadata: { name: 'probe' },
        spec,
      });
    const triggers = [
      {
        type: 'prometheus',
        metadata: { serverAddress: 'http://prometheus:9090', query: 'sum(up)', threshold: '8' },
      },
    ];
    const ok = await kubectl(
      ['create', '-n', namespace, '--dry-run=server', '-f', '-'],
      scaledObject({
        scaleTargetRef: { name: 'probe' },
        minReplicaCount: 0,
        maxReplicaCount: 4,
        triggers,
      }),
    );
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain('scaledobject.keda.sh/probe created (server dry run)');
    const bad = await kubectl(
      ['create', '-n', namespace, '--dry-run=server', '-f', '-'],
      scaledObject({ triggers }),
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('spec.scaleTargetRef: Required value');
  });
});
