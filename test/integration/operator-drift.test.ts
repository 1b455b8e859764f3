// Hand edits of what the operator owns, against the real API server: each is
// repaired within seconds, whenever it happens, and nothing else is written.
import { isDeepStrictEqual } from 'node:util';

import type { V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Operator } from '../../src/operator/operator.js';
import { createNamespace, deleteNamespace, eventually, kubectlOk } from './context.js';
import {
  apply,
  condition,
  getJson,
  modelDeploymentManifest,
  startOperator,
  waitForCondition,
  writes,
  type ModelDeploymentJson,
} from './operator-support.js';

const IMAGE = 'registry.example.com/tensorfleet/runtime:test';
let ns: string;
let operator: Operator;

beforeAll(async () => {
  ns = await createNamespace('drift');
  operator = await startOperator(ns);
});

afterAll(async () => {
  await operator?.stop();
  await deleteNamespace(ns);
});

const runtimeImage = async (name: string): Promise<string | undefined> =>
  (await getJson<V1Deployment>(ns, 'deployment', name))?.spec?.template.spec?.containers.find(
    (c) => c.name === 'runtime',
  )?.image;

describe('drift', () => {
  it('is repaired when the edit comes moments after the operator wrote the object', async () => {
    await apply(
      ns,
      modelDeploymentManifest('soon', {
        resources: { requests: { cpu: '100m', memory: '128Mi' } },
      }),
    );
    await waitForCondition(ns, 'soon', 'Ready', 'True');
    // The operator writes the Deployment for the scale; the edit follows at once.
    await kubectlOk(['scale', '-n', ns, 'md/soon', '--replicas=2']);
    await eventually('the Deployment at 2 replicas', async () =>
      (await getJson<V1Deployment>(ns, 'deployment', 'soon'))?.spec?.replicas === 2
        ? true
        : undefined,
    );
    await kubectlOk(['set', 'image', '-n', ns, 'deploy/soon', 'runtime=other:3']);
    const repaired = await eventually(
      'the image taken back',
      async () => ((await runtimeImage('soon')) === IMAGE ? true : undefined),
      10_000,
    );
    expect(repaired).toBe(true);
  });

  it('takes back every field it owns from the common hand edits, whatever blocks it', async () => {
    await apply(
      ns,
      modelDeploymentManifest('edited', {
        resources: { requests: { cpu: '100m', memory: '128Mi' } },
        monitoring: { serviceMonitor: { enabled: 'true' } },
      }),
    );
    await waitForCondition(ns, 'edited', 'Ready', 'True');
    const before = (await getJson<V1Deployment>(ns, 'deployment', 'edited'))!;
    const runtime = (d: V1Deployment | undefined) =>
      d?.spec?.template.spec?.containers.find((c) => c.name === 'runtime');
    const ours = runtime(before)!;
    const cpus = ours.env?.find((e) => e.name === 'TENSORFLEET_CPUS');
    expect(cpus?.valueFrom).toBeDefined();

    const kubectl = (...args: string[]) => kubectlOk(['-n', ns, ...args]);
    await kubectl('set', 'image', 'deploy/edited', 'runtime=other:3');
    // A variable the operator sets through valueFrom, given a value: the two
    // may not stand together, so its apply would be refused until this goes.
    await kubectl('set', 'env', 'deploy/edited', '-c', 'runtime', 'TENSORFLEET_CPUS=99');
    await kubectl('set', 'resources', 'deploy/edited', '-c', 'runtime', '--requests=cpu=300m');
    await kubectl('scale', 'deploy/edited', '--replicas=3');
    // An edit of the pod template: the probe's handler replaced by another
    // kind (only one may stand, so ours cannot come back beside it).
    await kubectl(
      'patch',
      'deploy/edited',
      '--type=json',
      '-p',
      JSON.stringify([
        { op: 'remove', path: '/spec/template/spec/containers/0/readinessProbe/httpGet' },
        {
          op: 'add',
          path: '/spec/template/spec/containers/0/readinessProbe/exec',
          value: { command: ['true'] },
        },
      ]),
    );
    await kubectl(
      'patch',
      'svc/edited',
      '--type=merge',
      '-p',
      '{"spec":{"ports":[{"name":"http","port":9999,"targetPort":"http"}]}}',
    );
    await kubectl(
      'patch',
      'servicemonitor/edited',
      '--type=merge',
      '-p',
      '{"spec":{"endpoints":[{"port":"other"}]}}',
    );

    await eventually(
      'every owned field taken back',
      async () => {
        const d = await getJson<V1Deployment>(ns, 'deployment', 'edited');
        const c = runtime(d);
        const env = c?.env?.find((e) => e.name === 'TENSORFLEET_CPUS');
        const svc = await getJson<{ spec: { ports: Array<{ port: number }> } }>(
          ns,
          'svc',
          'edited',
        );
        const sm = await getJson<{ spec: { endpoints: Array<{ port: string }> } }>(
          ns,
          'servicemonitor',
          'edited',
        );
        const wrong = Object.entries({
          image: c?.image === ours.image,
          env: env?.value === undefined && isDeepStrictEqual(env?.valueFrom, cpus?.valueFrom),
          resources: isDeepStrictEqual(c?.resources, ours.resources),
          replicas: d?.spec?.replicas === 1,
          probe: c?.readinessProbe?.exec === undefined && c?.readinessProbe?.httpGet !== undefined,
          servicePorts: svc?.spec.ports.map((p) => p.port).join() === '8501,8500',
          serviceMonitor: sm?.spec.endpoints.map((e) => e.port).join() === 'http',
        }).filter(([, ok]) => !ok);
        if (wrong.length > 0) throw new Error(`not yet: ${wrong.map(([k]) => k).join(', ')}`);
        return true;
      },
      15_000,
    );
    const md = await waitForCondition(ns, 'edited', 'Ready', 'True');
    expect(condition(md, 'Stalled')?.status).toBe('False');
  });

  it('leaves what others added and writes nothing because of it', async () => {
    await apply(
      ns,
      modelDeploymentManifest('shared', {
        resources: { requests: { cpu: '100m', memory: '128Mi' } },
      }),
    );
    await waitForCondition(ns, 'shared', 'Ready', 'True');
    const kubectl = (...args: string[]) => kubectlOk(['-n', ns, ...args]);
    await kubectl('set', 'env', 'deploy/shared', '-c', 'runtime', 'FOO=bar');
    await kubectl('label', 'deploy/shared', 'team=vision');
    await kubectl('annotate', 'deploy/shared', 'owner=someone');
    await kubectl('label', 'svc/shared', 'team=vision');
    await new Promise((r) => setTimeout(r, 3000));
    const quiet = await writes(operator);
    // Each of these is a watch event that makes the operator compare again.
    await kubectl('label', 'deploy/shared', 'again=1');
    await kubectl('annotate', 'svc/shared', 'again=1');
    await new Promise((r) => setTimeout(r, 3000));
    expect(await writes(operator)).toBe(quiet);
    const d = (await getJson<V1Deployment>(ns, 'deployment', 'shared'))!;
    expect(d.metadata?.labels?.['team']).toBe('vision');
    expect(d.metadata?.annotations?.['owner']).toBe('someone');
    expect(d.spec?.template.spec?.containers[0]?.env).toContainEqual({ name: 'FOO', value: 'bar' });
    const md = await getJson<ModelDeploymentJson>(ns, 'md', 'shared');
    expect(condition(md, 'Ready')?.status).toBe('True');
  });
});
