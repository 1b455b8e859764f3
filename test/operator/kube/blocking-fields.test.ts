import { describe, expect, it } from 'vitest';

import { blockingFieldsPatch } from '../../../src/operator/kube/blocking-fields.js';

const workload = (container: Record<string, unknown>, volumes: unknown[] = []) => ({
  metadata: { resourceVersion: '42' },
  spec: { template: { spec: { containers: [container], volumes } } },
});

const CPUS_FROM = {
  name: 'TENSORFLEET_CPUS',
  valueFrom: { resourceFieldRef: { resource: 'requests.cpu' } },
};

describe('blockingFieldsPatch', () => {
  it('removes a value someone set where we set valueFrom (kubectl set env)', () => {
    const desired = workload({ name: 'runtime', env: [CPUS_FROM] });
    const observed = workload({
      name: 'runtime',
      env: [
        { name: 'FOO', value: 'bar' },
        { name: 'TENSORFLEET_CPUS', value: '99' },
      ],
    });
    expect(blockingFieldsPatch(desired, observed)).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '42' },
      { op: 'remove', path: '/spec/template/spec/containers/0/env/1/value' },
      {
        op: 'add',
        path: '/spec/template/spec/containers/0/env/1/valueFrom',
        value: CPUS_FROM.valueFrom,
      },
    ]);
  });

  it('removes a probe handler and a volume source of another kind than ours', () => {
    const desired = workload(
      { name: 'runtime', readinessProbe: { httpGet: { path: '/v2/health/ready' } } },
      [{ name: 'tmp', emptyDir: {} }],
    );
    const observed = workload(
      {
        name: 'runtime',
        readinessProbe: { httpGet: { path: '/v2/health/ready' }, exec: { command: ['true'] } },
      },
      [
        { name: 'model', emptyDir: {} },
        { name: 'tmp', emptyDir: {}, hostPath: { path: '/x' } },
      ],
    );
    expect(blockingFieldsPatch(desired, observed)?.slice(1)).toEqual([
      { op: 'remove', path: '/spec/template/spec/containers/0/readinessProbe/exec' },
      { op: 'remove', path: '/spec/template/spec/volumes/1/hostPath' },
    ]);
  });

  it('puts our member in place of the one it removes, so the object stays valid', () => {
    const desired = workload({
      name: 'runtime',
      readinessProbe: { httpGet: { path: '/ready' }, periodSeconds: 5 },
    });
    const observed = workload({
      name: 'runtime',
      readinessProbe: { exec: { command: ['true'] }, periodSeconds: 5 },
    });
    expect(blockingFieldsPatch(desired, observed)?.slice(1)).toEqual([
      { op: 'remove', path: '/spec/template/spec/containers/0/readinessProbe/exec' },
      {
        op: 'add',
        path: '/spec/template/spec/containers/0/readinessProbe/httpGet',
        value: { path: '/ready' },
      },
    ]);
  });

  it("removes a port someone renumbered under our port's name (names must be unique)", () => {
    const desired = { spec: { ports: [{ name: 'http', port: 8501, protocol: 'TCP' }] } };
    const observed = {
      metadata: { resourceVersion: '7' },
      spec: {
        ports: [
          { name: 'metrics', port: 9090, protocol: 'TCP' },
          { name: 'http', port: 9999, protocol: 'TCP' },
          { name: 'http', port: 9998, protocol: 'TCP' },
        ],
      },
    };
    expect(blockingFieldsPatch(desired, observed)).toEqual([
      { op: 'test', path: '/metadata/resourceVersion', value: '7' },
      { op: 'remove', path: '/spec/ports/2' },
      { op: 'remove', path: '/spec/ports/1' },
      { op: 'add', path: '/spec/ports/-', value: { name: 'http', port: 8501, protocol: 'TCP' } },
    ]);
    const container = workload({ name: 'runtime', ports: [{ name: 'http', containerPort: 8501 }] });
    expect(
      blockingFieldsPatch(
        container,
        workload({ name: 'runtime', ports: [{ name: 'http', containerPort: 1234 }] }),
      )?.slice(1),
    ).toEqual([
      { op: 'remove', path: '/spec/template/spec/containers/0/ports/0' },
      {
        op: 'add',
        path: '/spec/template/spec/containers/0/ports/-',
        value: { name: 'http', containerPort: 8501 },
      },
    ]);
  });

  it('leaves what does not block: other variables, fields we do not set, other objects', () => {
    const desired = workload({ name: 'runtime', env: [CPUS_FROM] });
    expect(
      blockingFieldsPatch(
        desired,
        workload({ name: 'runtime', env: [CPUS_FROM, { name: 'FOO', value: 'bar' }] }),
      ),
    ).toBeUndefined();
    expect(
      blockingFieldsPatch(
        workload({ name: 'runtime', env: [{ name: 'A', value: '1' }] }),
        workload({ name: 'runtime', env: [{ name: 'A', value: '2' }] }),
      ),
    ).toBeUndefined();
    expect(blockingFieldsPatch({ spec: { ports: [] } }, { spec: { ports: [] } })).toBeUndefined();
  });
});
