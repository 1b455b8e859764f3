// Pitfall 8 (client-node #494): informers are created once per kind and
// shared, and every request goes through one keep-alive agent.
import { afterEach, describe, expect, it } from 'vitest';
import { SharedCache } from '../../../src/operator/kube/cache.js';
import { KubeClient } from '../../../src/operator/kube/client.js';
import { RESOURCES } from '../../../src/operator/kube/types.js';
import { silentLogger } from '../../../src/operator/logger.js';
import { FakeApiServer, kubeConfigFor, list, pod } from './fake-apiserver.js';

let server: FakeApiServer | undefined;

afterEach(async () => {
  await server?.stop();
});

describe('SharedCache', () => {
  it('hands out one informer per kind and selector', () => {
    const client = new KubeClient(kubeConfigFor(1));
    const cache = new SharedCache(client, {
      namespaces: [],
      resyncPeriodMs: 0,
      logger: silentLogger,
    });
    const a = cache.kind(RESOURCES.pod, 'x=y');
    expect(cache.kind(RESOURCES.pod, 'x=y')).toBe(a);
    expect(cache.kind(RESOURCES.pod)).not.toBe(a);
    expect(a.informers).toHaveLength(1);
  });

  it('fans a kind out to one informer per watched namespace, and not for cluster-scoped kinds', () => {
    const client = new KubeClient(kubeConfigFor(1));
    const cache = new SharedCache(client, {
      namespaces: ['a', 'b'],
      resyncPeriodMs: 0,
      logger: silentLogger,
    });
    expect(cache.kind(RESOURCES.pod).informers).toHaveLength(2);
    expect(cache.kind(RESOURCES.node).informers).toHaveLength(1);
  });

  it('reuses connections: many requests, one socket', async () => {
    server = new FakeApiServer();
    await server.start();
    server.lists = [list('1', pod('a', '1'))];
    const client = new KubeClient(server.kubeConfig());
    for (let i = 0; i < 10; i++) await client.list(RESOURCES.pod, 'ns');
    expect(server.requests).toHaveLength(10);
    expect(server.connections).toBe(1);
    client.close();
  });
});
