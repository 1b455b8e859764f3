import { describe, expect, it } from 'vitest';

import { ApiError } from '../../../src/operator/kube/client.js';
import { NamespaceDeletion } from '../../../src/operator/status/namespace-deletion.js';

/** A client whose GET answers what `answer` says, counting calls. */
function fake(answer: () => unknown) {
  const calls: string[] = [];
  const client = {
    get: <T>(_ref: unknown, name: string): Promise<T> => {
      calls.push(name);
      // What `answer` throws becomes the rejection.
      return Promise.resolve().then(() => answer() as T);
    },
  };
  return { client, calls };
}

const live = { metadata: { name: 'ml' }, status: { phase: 'Active' } };
const going = {
  metadata: { name: 'ml', deletionTimestamp: new Date() },
  status: { phase: 'Terminating' },
};

describe('whether a namespace is being deleted', () => {
  it('reads the Namespace, and trusts a live reading for a second', async () => {
    let now = 0;
    const { client, calls } = fake(() => live);
    const d = new NamespaceDeletion(client, () => now);
    expect(await d.terminating('ml')).toBe(false);
    now = 999;
    expect(await d.terminating('ml')).toBe(false);
    expect(calls).toHaveLength(1);
    now = 1000;
    await d.terminating('ml');
    expect(calls).toHaveLength(2);
  });

  it('keeps a deletion for 30 s, and takes a missing namespace as deleted', async () => {
    let now = 0;
    let answer: () => unknown = () => going;
    const { client, calls } = fake(() => answer());
    const d = new NamespaceDeletion(client, () => now);
    expect(await d.terminating('ml')).toBe(true);
    now = 29_999;
    expect(await d.terminating('ml')).toBe(true);
    expect(calls).toHaveLength(1);
    now = 30_000;
    answer = () => {
      throw new ApiError(404, 'NotFound', 'namespaces "ml" not found');
    };
    expect(await d.terminating('ml')).toBe(true);
  });

  it('learns a deletion from a refused create without reading', async () => {
    const { client, calls } = fake(() => live);
    const d = new NamespaceDeletion(client);
    d.markTerminating('ml');
    expect(await d.terminating('ml')).toBe(true);
    expect(calls).toHaveLength(0);
  });

  it('without RBAC to read namespaces, assumes live and asks again only after 10 minutes', async () => {
    let now = 0;
    const { client, calls } = fake(() => {
      throw new ApiError(403, 'Forbidden', 'namespaces "ml" is forbidden');
    });
    const d = new NamespaceDeletion(client, () => now);
    expect(await d.terminating('ml')).toBe(false);
    now = 599_999;
    expect(await d.terminating('other')).toBe(false);
    expect(calls).toHaveLength(1);
    now = 600_000;
    await d.terminating('ml');
    expect(calls).toHaveLength(2);
  });

  it('takes any other failure as live, without remembering it', async () => {
    const { client, calls } = fake(() => {
      throw new ApiError(500, 'InternalError', 'etcd unavailable');
    });
    const d = new NamespaceDeletion(client, () => 0);
    expect(await d.terminating('ml')).toBe(false);
    expect(await d.terminating('ml')).toBe(false);
    expect(calls).toHaveLength(2);
  });
});
