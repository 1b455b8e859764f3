import { describe, expect, it } from 'vitest';
import {
  APPLIED_HASH,
  isContained,
  needsApply,
  withAppliedHash,
} from '../../../src/operator/kube/compare.js';

describe('isContained', () => {
  it('ignores fields the API server added', () => {
    expect(isContained({ a: 1, b: { c: 'x' } }, { a: 1, b: { c: 'x', d: 2 }, e: 3 })).toBe(true);
  });

  it('sees a changed value or list length', () => {
    expect(isContained({ a: 1 }, { a: 2 })).toBe(false);
    expect(isContained({ l: [1, 2] }, { l: [1] })).toBe(false);
    expect(isContained({ l: [{ a: 1 }] }, { l: [{ a: 1, b: 2 }] })).toBe(true);
  });

  it('reads lists the API server merges by key as maps: items others added are not ours', () => {
    const ours = {
      env: [{ name: 'A', value: '1' }],
      volumeMounts: [{ mountPath: '/m', name: 'm' }],
    };
    expect(
      isContained(ours, {
        env: [
          { name: 'FOO', value: 'bar' },
          { name: 'A', value: '1' },
        ],
        volumeMounts: [
          { mountPath: '/x', name: 'x' },
          { mountPath: '/m', name: 'm', readOnly: true },
        ],
      }),
    ).toBe(true);
    expect(isContained(ours, { env: [{ name: 'A', value: '2' }], volumeMounts: [] })).toBe(false);
    expect(
      isContained(
        { ports: [{ port: 80 }] },
        { ports: [{ port: 80, protocol: 'TCP' }, { port: 81 }] },
      ),
    ).toBe(true);
    expect(isContained({ ports: [{ port: 80, protocol: 'UDP' }] }, { ports: [{ port: 80 }] })).toBe(
      false,
    );
    // Atomic lists (args, tolerations, ...) must still match exactly.
    expect(isContained({ args: ['a'] }, { args: ['a', 'b'] })).toBe(false);
  });

  it('compares quantities by value (the API server canonicalises them)', () => {
    expect(isContained({ cpu: '0.5' }, { cpu: '500m' })).toBe(true);
    expect(isContained({ memory: '1024Mi' }, { memory: '1Gi' })).toBe(true);
    expect(isContained({ cpu: '1' }, { cpu: '2' })).toBe(false);
  });
});

describe('needsApply', () => {
  interface Obj {
    metadata: {
      name: string;
      labels: Record<string, string>;
      annotations?: Record<string, string>;
    };
    spec: { replicas: number };
  }
  const desired = withAppliedHash<Obj>({
    metadata: { name: 'x', labels: { a: '1' } },
    spec: { replicas: 2 },
  });

  it('applies when the object is missing', () => {
    expect(needsApply(desired, undefined)).toBe(true);
  });

  it('skips when the cluster has exactly what we applied', () => {
    const observed = structuredClone(desired) as typeof desired & { status?: unknown };
    observed.status = { replicas: 2 };
    expect(needsApply(desired, observed)).toBe(false);
  });

  it('applies when someone else changed a field we own (drift)', () => {
    const observed = structuredClone(desired);
    observed.spec.replicas = 5;
    expect(needsApply(desired, observed)).toBe(true);
  });

  it('applies when we stopped setting a field (the hash changed)', () => {
    const before = withAppliedHash<Obj>({
      metadata: { name: 'x', labels: { a: '1', b: '2' } },
      spec: { replicas: 1 },
    });
    const after = withAppliedHash<Obj>({
      metadata: { name: 'x', labels: { a: '1' } },
      spec: { replicas: 1 },
    });
    expect(after.metadata.annotations?.[APPLIED_HASH]).not.toBe(
      before.metadata.annotations?.[APPLIED_HASH],
    );
    expect(needsApply(after, before)).toBe(true);
  });
});
