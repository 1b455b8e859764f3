// Never two leaders: the leader's connection to the real API server is frozen
// by a TCP proxy (packets stop, nothing closes), and the leader must stop
// leading before the standby, which still reaches the server, takes the Lease.
import { createServer, connect, type Server, type Socket } from 'node:net';

import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KubeClient } from '../../src/operator/kube/client.js';
import { LeaderElector } from '../../src/operator/leader-election.js';
import { silentLogger } from '../../src/operator/logger.js';
import { cluster, createNamespace, deleteNamespace, eventually } from './context.js';

/** A TCP proxy to `target` whose traffic can be frozen in both directions. */
async function freezableProxy(
  target: URL,
): Promise<{ url: string; freeze(): void; close(): void }> {
  const sockets: Socket[] = [];
  let frozen = false;
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.push(client, upstream);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => {
        // Frozen: bytes are swallowed, the connection stays open and silent.
        if (!frozen) to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    for (const s of [client, upstream]) s.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no proxy address');
  return {
    url: `https://127.0.0.1:${address.port}`,
    freeze: () => {
      frozen = true;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

function client(server?: string): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster().kubeconfigPath);
  if (server !== undefined) {
    const current = kc.getCurrentCluster()!;
    kc.clusters = kc.clusters.map((c) => (c.name === current.name ? { ...c, server } : c));
  }
  return new KubeClient(kc);
}

let ns: string;
beforeAll(async () => {
  ns = await createNamespace('leader');
});
afterAll(async () => {
  await deleteNamespace(ns);
});

describe('leader election', () => {
  it('a leader cut off from the API server stops leading before a standby can take over', async () => {
    const proxy = await freezableProxy(new URL(cluster().server));
    const events: Array<[string, number]> = [];
    const elector = (name: string, via: KubeClient) =>
      new LeaderElector(via, {
        namespace: ns,
        name: 'frozen',
        identity: name,
        leaseDurationMs: 4000,
        renewDeadlineMs: 3000,
        retryPeriodMs: 500,
        onStartedLeading: () => events.push([`${name} started`, Date.now()]),
        onStoppedLeading: () => events.push([`${name} stopped`, Date.now()]),
        logger: silentLogger,
      });
    const a = elector('a', client(proxy.url));
    a.start();
    await eventually('a to lead', () =>
      Promise.resolve(events.some(([e]) => e === 'a started') || undefined),
    );
    const b = elector('b', client());
    b.start();
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const frozenAt = Date.now();
      proxy.freeze();
      await eventually(
        'b to take over',
        () => Promise.resolve(events.some(([e]) => e === 'b started') || undefined),
        20_000,
      );
      const at = (what: string) => events.find(([e]) => e === what)?.[1];
      const aStopped = at('a stopped');
      const bStarted = at('b started')!;
      expect(aStopped, JSON.stringify(events)).toBeDefined();
      // a stopped by its renew deadline after the freeze, and before b led.
      expect(aStopped! - frozenAt).toBeLessThanOrEqual(3000 + 500);
      expect(aStopped!).toBeLessThan(bStarted);
    } finally {
      await b.stop();
      await a.stop();
      proxy.close();
    }
  }, 40_000);
});
