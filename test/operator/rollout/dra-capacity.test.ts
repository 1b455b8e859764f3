import type { ResourceV1ResourceClaim, V1Node, V1ResourceSlice } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeviceCondition } from '../../../src/operator/rollout/dra-capacity.js';
import { celConditions, draSurgeSlots } from '../../../src/operator/rollout/dra-capacity.js';

const DRIVER = 'gpu.nvidia.com';

const node = (name: string): V1Node => ({
  metadata: { name },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});

/**
 * A node-local pool of GPUs as NVIDIA's driver publishes it (one slice per
 * node), in the API's JSON (client-node's type calls the int attribute _int).
 */
function slice(
  nodeName: string,
  products: string[],
  generation = 1,
  driver = DRIVER,
): V1ResourceSlice {
  const json = {
    metadata: { name: `${nodeName}-${driver}` },
    spec: {
      driver,
      nodeName,
      pool: { name: nodeName, generation, resourceSliceCount: 1 },
      devices: products.map((productName, i) => ({
        name: `gpu-${i}`,
        attributes: {
          type: { string: 'gpu' },
          productName: { string: productName },
          index: { int: i },
        },
      })),
    },
  };
  return json as unknown as V1ResourceSlice;
}

/** A claim allocated these devices (driver/pool/device). */
function claim(...devices: [string, string][]): ResourceV1ResourceClaim {
  return {
    spec: { devices: { requests: [] } },
    status: {
      allocation: {
        devices: {
          results: devices.map(([pool, device]) => ({
            request: 'gpu',
            driver: DRIVER,
            pool,
            device,
          })),
        },
      },
    },
  };
}

const CLASS = celConditions(
  `device.driver == "${DRIVER}" && device.attributes["${DRIVER}"].type == "gpu"`,
);

describe('celConditions', () => {
  it('reads the equalities of a conjunction on the driver and on attributes', () => {
    expect(
      celConditions(
        `device.driver == 'gpu.nvidia.com' && (device.attributes["gpu.nvidia.com"].productName == "NVIDIA H100 80GB HBM3") && device.attributes["gpu.nvidia.com"].index == 3 && device.attributes["x.example.com"].mig == true`,
      ),
    ).toEqual<DeviceCondition[]>([
      { driver: 'gpu.nvidia.com' },
      { domain: 'gpu.nvidia.com', name: 'productName', value: 'NVIDIA H100 80GB HBM3' },
      { domain: 'gpu.nvidia.com', name: 'index', value: 3 },
      { domain: 'x.example.com', name: 'mig', value: true },
    ]);
  });

  it('adds no condition for what it cannot read: disjunctions, calls, comparisons, negations', () => {
    for (const e of [
      'device.driver == "a" || device.driver == "b"',
      'device.attributes["gpu.nvidia.com"].productName.startsWith("NVIDIA H100")',
      'device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("40Gi")) >= 0',
      '!(device.attributes["gpu.nvidia.com"].productName == "x")',
      'device.attributes["gpu.nvidia.com"].index != 0',
    ])
      expect(celConditions(e), e).toEqual([]);
  });

  it('never throws, whatever the expression', () => {
    fc.assert(fc.property(fc.string(), (e) => Array.isArray(celConditions(e))));
  });
});

describe('draSurgeSlots', () => {
  const nodes = [node('a'), node('b')];
  const slices = [slice('a', ['H100', 'H100', 'H100', 'H100']), slice('b', ['A100', 'A100'])];

  it('counts free matching devices per node, divided by the devices a pod needs', () => {
    expect(draSurgeSlots(nodes, slices, [], CLASS, 1)).toBe(6);
    expect(draSurgeSlots(nodes, slices, [], CLASS, 2)).toBe(3);
    // 4 free on a and 2 on b: a pod of 3 fits on a only.
    expect(draSurgeSlots(nodes, slices, [], CLASS, 3)).toBe(1);
  });

  it('leaves out devices claims hold', () => {
    const held = [claim(['a', 'gpu-0'], ['a', 'gpu-1']), claim(['b', 'gpu-1'])];
    expect(draSurgeSlots(nodes, slices, held, CLASS, 1)).toBe(3);
    expect(draSurgeSlots(nodes, slices, held, CLASS, 2)).toBe(1);
  });

  it('applies the selectors, counts only eligible nodes and the newest pool generation', () => {
    const h100 = [
      ...CLASS,
      ...celConditions(`device.attributes["${DRIVER}"].productName == "H100"`),
    ];
    expect(draSurgeSlots(nodes, slices, [], h100, 1)).toBe(4);
    const first = celConditions(`device.attributes["${DRIVER}"].index == 0`);
    expect(draSurgeSlots(nodes, slices, [], first, 1)).toBe(2);
    expect(draSurgeSlots([node('b')], slices, [], CLASS, 1)).toBe(2);
    const republished = [...slices, slice('b', ['A100'], 2)];
    expect(draSurgeSlots(nodes, republished, [], CLASS, 1)).toBe(5);
    const otherDriver = [slice('b', ['X', 'X'], 1, 'gpu.example.com')];
    expect(draSurgeSlots(nodes, otherDriver, [], CLASS, 1)).toBe(0);
    // Pools not bound to one node (network-attached devices) are not counted.
    const shared = {
      ...slices[0]!,
      spec: { ...slices[0]!.spec, nodeName: undefined, allNodes: true },
    };
    expect(draSurgeSlots(nodes, [shared], [], CLASS, 1)).toBe(0);
  });

  it('never counts more pods than the devices allow, and a claim never adds room', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(8), { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(3), fc.nat(8))),
        fc.integer({ min: 1, max: 4 }),
        (sizes, held, count) => {
          const ns = sizes.map((_, i) => node(`n${i}`));
          const ss = sizes.map((size, i) => slice(`n${i}`, Array<string>(size).fill('H100')));
          const claims = held.map(([n, d]) => claim([`n${n}`, `gpu-${d}`]));
          const slots = draSurgeSlots(ns, ss, claims, CLASS, count);
          const total = sizes.reduce((a, b) => a + b, 0);
          expect(slots).toBeGreaterThanOrEqual(0);
          expect(slots * count).toBeLessThanOrEqual(total);
          expect(slots).toBeLessThanOrEqual(draSurgeSlots(ns, ss, [], CLASS, count));
        },
      ),
    );
  });
});
