// Each test pins one failure mode of @kubernetes/client-node's informer that
// ours must handle (numbers as in ../shared/STYLE.md).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../src/operator/kube/client.js';
import type { InformerOptions } from '../../../src/operator/kube/informer.js';
import { Informer } from '../../../src/operator/kube/informer.js';
import type { KubeObject } from '../../../src/operator/kube/types.js';
import { RESOURCES } from '../../../src/operator/kube/types.js';
import { silentLogger } from '../../../src/operator/logger.js';
import { FakeApiServer, list, pod } from './fake-apiserver.js';

let server: FakeApiServer;
let client: KubeClient;
let informer: Informer<KubeObject> | undefined;
const events: string[] = [];

function start(opts: Partial<InformerOptions<KubeObject>> = {}): Informer<KubeObject> {
  informer = new Informer<KubeObject>(client, {
    resource: RESOURCES.pod,
    logger: silentLogger,
    backoff: { initialMs: 10, maxMs: 40 },
    resyncPeriodMs: 0,
    ...opts,
  });
  informer.addHandler({
    onAdd: (o) => events.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`),
    onUpdate: (o) => events.push(`update ${o.metadata.name}@${o.metadata.resourceVersion}`),
    onDelete: (o) => events.push(`delete ${o.metadata.name}`),
  });
  informer.start();
  return informer;
}

beforeEach(async () => {
  server = new FakeApiServer();
  await server.start();
  client = new KubeClient(server.kubeConfig());
  events.length = 0;
});

afterEach(async () => {
  await informer?.stop();
  informer = undefined;
  client.close();
  await server.stop();
});

describe('Informer', () => {
  it('(1) keeps retrying with backoff after errors other than 410, and (6) syncs only after a real list', async () => {
    server.lists = [
      { status: 500, body: { reason: 'InternalError', message: 'etcd down' } },
      {
        status: 503,
        body: { reason: 'ServiceUnavailable', message: 'storage is (re)initializing' },
      },
      list('5', pod('a', '5')),
    ];
    const i = start();
    expect(i.hasSynced()).toBe(false);
    await i.waitForSync();
    expect(i.hasSynced()).toBe(true);
    expect(i.stats.failures).toBe(2);
    expect(i.get('ns/a')).toBeDefined();
    expect(events).toEqual(['add a@5']);
  });

  it('(2) reopens a watch that went silent (half-open) and resumes from the last resourceVersion', async () => {
    server.lists = [list('5', pod('a', '5'))];
    const i = start({ inactivityTimeoutMs: 150 });
    await expect.poll(() => server.watchCalls().length).toBe(1);
    server.send({ type: 'MODIFIED', object: pod('a', '6') });
    await expect
      .poll(() => server.watchCalls().length, { timeout: 3000 })
      .toBeGreaterThanOrEqual(2);
    expect(i.stats.inactivityAborts).toBeGreaterThanOrEqual(1);
    expect(server.watchCalls()[1]!.query.get('resourceVersion')).toBe('6');
    expect(server.listCalls()).toHaveLength(1);
  });

  it('(3) resumes a watch the server ended normally without relisting', async () => {
    server.lists = [list('5')];
    start();
    await expect.poll(() => server.watchCalls().length).toBe(1);
    server.send({ type: 'ADDED', object: pod('b', '7') });
    server.send({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } });
    server.endWatch();
    await expect.poll(() => server.watchCalls().length).toBe(2);
    expect(server.watchCalls()[1]!.query.get('resourceVersion')).toBe('9');
    expect(server.watchCalls()[0]!.query.get('allowWatchBookmarks')).toBe('true');
    expect(server.listCalls()).toHaveLength(1);
  });

  it('(3, 4) relists on 410 Gone and reports only real changes, including deletes missed meanwhile', async () => {
    server.lists = [
      list('5', pod('a', '5'), pod('b', '5')),
      list('20', pod('a', '5'), pod('c', '12')),
    ];
    const i = start();
    await expect.poll(() => server.watchCalls().length).toBe(1);
    server.send({
      type: 'ERROR',
      object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' },
    });
    await expect.poll(() => server.listCalls().length).toBe(2);
    await expect.poll(() => events.length).toBe(4);
    // a is unchanged: no spurious update. b vanished: a delete. c is new.
    expect(events).toEqual(['add a@5', 'add b@5', 'add c@12', 'delete b']);
    expect(i.stats.gone).toBe(1);
  });

  it('(4) ignores a MODIFIED event that does not change the resourceVersion', async () => {
    server.lists = [list('5', pod('a', '5'))];
    start();
    await expect.poll(() => server.watchCalls().length).toBe(1);
    server.send({ type: 'MODIFIED', object: pod('a', '5') });
    server.send({ type: 'MODIFIED', object: pod('a', '6') });
    await expect.poll(() => events).toEqual(['add a@5', 'update a@6']);
  });

  it('(5) survives a handler that throws', async () => {
    server.lists = [list('5')];
    const i = start();
    i.addHandler({
      onAdd: () => {
        throw new Error('handler bug');
      },
    });
    await expect.poll(() => server.watchCalls().length).toBe(1);
    server.send({ type: 'ADDED', object: pod('a', '6') });
    server.send({ type: 'ADDED', object: pod('b', '7') });
    await expect.poll(() => i.size).toBe(2);
    expect(events).toEqual(['add a@6', 'add b@7']);
  });

  it('(7) lists and watches with the same selectors', async () => {
    server.lists = [list('5')];
    start({
      labelSelector: 'app.kubernetes.io/managed-by=tensorfleet',
      fieldSelector: 'status.phase!=Succeeded',
    });
    await expect.poll(() => server.watchCalls().length).toBe(1);
    const [l] = server.listCalls();
    const [w] = server.watchCalls();
    for (const key of ['labelSelector', 'fieldSelector']) {
      expect(w!.query.get(key)).toBe(l!.query.get(key));
      expect(w!.query.get(key)).toBeTruthy();
    }
  });

  it('pages through large lists with continue tokens', async () => {
    server.lists = [
      {
        status: 200,
        body: { metadata: { resourceVersion: '5', continue: 'tok' }, items: [pod('a', '5')] },
      },
      list('5', pod('b', '5')),
    ];
    const i = start({ pageSize: 1 });
    await i.waitForSync();
    expect(server.listCalls()[1]!.query.get('continue')).toBe('tok');
    expect(i.size).toBe(2);
  });

  it('relists periodically as a safety net, even while the watch is busy', async () => {
    server.lists = [list('5', pod('a', '5'))];
    start({ relistPeriodMs: 200 });
    await expect.poll(() => server.listCalls().length, { timeout: 3000 }).toBeGreaterThanOrEqual(2);
  });
});
