// The poller behind status.model: it enqueues a model only when what its pods
// hold changed, raises Events for pods it cannot read and for versions newly
// failed, and forgets models whose policy is gone.
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { EventType } from '../../../src/operator/events.js';
import type { KindCache } from '../../../src/operator/kube/cache.js';
import type { KubeObject, ModelDeploymentObject } from '../../../src/operator/kube/types.js';
import { silentLogger } from '../../../src/operator/logger.js';
import { ModelVersionsReader } from '../../../src/operator/status/model-versions-reader.js';
import { modelDeployment } from '../fixtures.js';

/** Only what the reader calls: list(namespace, predicate). */
function cache<T extends KubeObject>(objects: () => T[]): KindCache<T> {
  return {
    list: (namespace?: string, predicate?: (o: T) => boolean) =>
      objects().filter(
        (o) =>
          (namespace === undefined || o.metadata.namespace === namespace) &&
          (predicate?.(o) ?? true),
      ),
  } as unknown as KindCache<T>;
}

const runningPod = (name: string, ip: string): KubeObject =>
  ({
    metadata: { name, namespace: 'ml', labels: { 'tensorfleet.dev/model': 'mnist' } },
    status: {
      phase: 'Running',
      podIP: ip,
      containerStatuses: [
        {
          name: 'runtime',
          state: { running: {} },
          ready: true,
          restartCount: 0,
          image: 'i',
          imageID: '',
        },
      ],
    },
  }) as V1Pod as KubeObject;

const state = (version: number, s: string, code = 'OK') =>
  `tensorfleet_runtime_model_version_state{model="mnist",version="${version}",state="${s}",error_code="${code}"} 1`;

describe('ModelVersionsReader', () => {
  it('enqueues on change only, with Events for unread pods and newly failed versions', async () => {
    let md: ModelDeploymentObject = modelDeployment({
      model: { uri: 's3://models/mnist/', versionPolicy: { all: {} } },
    });
    const answers = new Map<string, string | Error>([
      ['127.244.0.1', state(3, 'AVAILABLE')],
      ['127.244.0.2', state(3, 'AVAILABLE')],
    ]);
    const enqueued: string[] = [];
    const events: { type: EventType; reason: string; note: string }[] = [];
    const reader = new ModelVersionsReader({
      modelDeployments: cache(() => [md]),
      pods: cache(() => [runningPod('a', '127.244.0.1'), runningPod('b', '127.244.0.2')]),
      logger: silentLogger,
      enqueue: (key) => enqueued.push(key),
      events: { emit: (_o, type, reason, note) => events.push({ type, reason, note }) },
      fetchText: (url) => {
        const answer = answers.get(new URL(url).hostname);
        return answer instanceof Error || answer === undefined
          ? Promise.reject(answer ?? new Error('no such pod'))
          : Promise.resolve(answer);
      },
    });

    await reader.tick();
    expect(reader.statusFor('ml/mnist')).toEqual({
      versions: [{ version: 3, state: 'AVAILABLE', replicas: 2 }],
      available: '3',
    });
    expect(enqueued).toEqual(['ml/mnist']);
    await reader.tick();
    expect(enqueued).toEqual(['ml/mnist']); // nothing changed: no reconcile

    answers.set('127.244.0.1', `${state(3, 'AVAILABLE')}\n${state(4, 'END', 'UNKNOWN')}`);
    answers.set('127.244.0.2', new Error('connect ECONNREFUSED 127.244.0.2:8501'));
    await reader.tick();
    expect(reader.statusFor('ml/mnist')).toMatchObject({
      versions: [
        { version: 4, state: 'FAILED', replicas: 1 },
        { version: 3, state: 'AVAILABLE', replicas: 1 },
      ],
      message:
        'could not read the versions of 1 of 2 pods (b: connect ECONNREFUSED 127.244.0.2:8501)',
    });
    expect(events.map((e) => [e.type, e.reason])).toEqual([
      ['Warning', 'ModelVersionsUnread'],
      ['Warning', 'VersionLoadFailed'],
    ]);
    expect(events[1]!.note).toMatch(/^version 4 failed to load on 1 pod/);
    await reader.tick();
    expect(events).toHaveLength(2); // the same trouble is not reported again

    md = modelDeployment({ model: { uri: 's3://models/mnist/3/', version: '3' } });
    await reader.tick();
    expect(reader.statusFor('ml/mnist')).toBeUndefined();
  });
});
