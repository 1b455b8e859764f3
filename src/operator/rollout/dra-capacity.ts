// Free DRA device room for surge pods, counted before a rollout starts: the
// devices drivers publish in ResourceSlices on the nodes a model's pod could
// land on, that its DeviceClass and selectors admit, less the devices
// ResourceClaims have been allocated. Like gpu-capacity.ts an approximation of
// the scheduler: only the simple part of CEL is understood (equalities on the
// driver and on attributes, joined by &&); a condition it cannot read admits
// every device, so the count errs towards surging, and the reactive check in
// gpu-aware.ts (a surge pod the scheduler refused) stays the backstop. Only
// node-local pools (spec.nodeName) count: GPUs are.
import type {
  ResourceV1ResourceClaim,
  V1DeviceClass,
  V1Node,
  V1ResourceSlice,
} from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import { RESOURCES, resourcePath } from '../kube/types.js';
import type { NodePlacement } from './gpu-capacity.js';
import { placementAllows } from './gpu-capacity.js';

export interface DraPodShape extends NodePlacement {
  deviceClassName: string;
  /** Devices per pod. */
  count: number;
  /** The model's CEL selectors (the class's are read from the DeviceClass). */
  selectors: string[];
}

/** One condition a device must meet: its driver, or an attribute's value. */
export type DeviceCondition =
  { driver: string } | { domain: string; name: string; value: string | number | boolean };

const QUOTED = String.raw`"([^"\\]*)"|'([^'\\]*)'`;
const DRIVER_EQ = new RegExp(String.raw`^device\.driver\s*==\s*(?:${QUOTED})$`);
const ATTRIBUTE_EQ = new RegExp(
  String.raw`^device\.attributes\[(?:${QUOTED})\]\.([A-Za-z0-9_]+)\s*==\s*(?:${QUOTED}|(-?\d+)|(true|false))$`,
);

/**
 * The conditions of a CEL selector this count understands: the top-level
 * equalities of a conjunction. Anything else (an ||, a function call, a
 * comparison) adds no condition.
 */
export function celConditions(expression: string): DeviceCondition[] {
  if (expression.includes('||')) return [];
  const conditions: DeviceCondition[] = [];
  for (const raw of expression.split('&&')) {
    const term = raw
      .trim()
      .replace(/^\((.*)\)$/s, '$1')
      .trim();
    const driver = DRIVER_EQ.exec(term);
    if (driver) {
      conditions.push({ driver: driver[1] ?? driver[2]! });
      continue;
    }
    const a = ATTRIBUTE_EQ.exec(term);
    if (!a) continue;
    const value =
      a[4] ??
      a[5] ??
      (a[6] !== undefined ? Number(a[6]) : a[7] !== undefined ? a[7] === 'true' : '');
    conditions.push({ domain: a[1] ?? a[2]!, name: a[3]!, value });
  }
  return conditions;
}

/** A device attribute as the API serves it (client-node's type renames int to _int). */
interface DeviceAttribute {
  string?: string;
  version?: string;
  int?: number;
  bool?: boolean;
}

function attributeValue(a: DeviceAttribute | undefined): string | number | boolean | undefined {
  return a?.string ?? a?.version ?? a?.int ?? a?.bool;
}

/** A device's attribute by domain and name: bare names belong to the driver's own domain. */
function attribute(
  attributes: Record<string, DeviceAttribute>,
  driver: string,
  domain: string,
  name: string,
) {
  return attributes[`${domain}/${name}`] ?? (domain === driver ? attributes[name] : undefined);
}

function meets(
  driver: string,
  attributes: Record<string, DeviceAttribute>,
  conditions: DeviceCondition[],
): boolean {
  return conditions.every((c) =>
    'driver' in c
      ? c.driver === driver
      : attributeValue(attribute(attributes, driver, c.domain, c.name)) === c.value,
  );
}

/** Key of one device, as allocation results name it. */
const deviceKey = (driver: string, pool: string, device: string) => `${driver}/${pool}/${device}`;

/**
 * How many more pods of the shape the free devices admit: per eligible node,
 * its free matching devices divided by the devices a pod needs.
 * `conditions` are the class's and the model's together.
 */
export function draSurgeSlots(
  nodes: V1Node[],
  slices: V1ResourceSlice[],
  claims: ResourceV1ResourceClaim[],
  conditions: DeviceCondition[],
  count: number,
): number {
  const allocated = new Set(
    claims.flatMap((c) =>
      (c.status?.allocation?.devices?.results ?? []).map((r) =>
        deviceKey(r.driver, r.pool, r.device),
      ),
    ),
  );
  // Only the newest generation of a pool is current (a driver republishing it).
  const generation = new Map<string, number>();
  for (const s of slices) {
    const pool = `${s.spec.driver}/${s.spec.pool.name}`;
    generation.set(pool, Math.max(generation.get(pool) ?? 0, s.spec.pool.generation));
  }
  const free = new Map<string, number>(nodes.map((n) => [n.metadata?.name ?? '', 0]));
  for (const s of slices) {
    const node = s.spec.nodeName;
    const { driver, pool } = { driver: s.spec.driver, pool: s.spec.pool.name };
    if (node === undefined || !free.has(node)) continue;
    if (s.spec.pool.generation !== generation.get(`${driver}/${pool}`)) continue;
    const usable = (s.spec.devices ?? []).filter(
      (d) =>
        !allocated.has(deviceKey(driver, pool, d.name)) &&
        meets(driver, (d.attributes ?? {}) as Record<string, DeviceAttribute>, conditions),
    );
    free.set(node, free.get(node)! + usable.length);
  }
  let slots = 0;
  for (const n of free.values()) slots += Math.floor(n / count);
  return slots;
}

/**
 * Reads nodes, the DeviceClass, ResourceSlices and ResourceClaims and counts
 * the free slots; undefined when it cannot tell (no permission, no such class,
 * DRA not served).
 */
export async function readDraSurgeSlots(
  client: KubeClient,
  shape: DraPodShape,
): Promise<number | undefined> {
  try {
    const list = <T>(path: string) =>
      client.request<{ items: T[] }>('GET', path).then((l) => l.items);
    const [nodes, deviceClass, slices, claims] = await Promise.all([
      list<V1Node>(resourcePath(RESOURCES.node)),
      client.request<V1DeviceClass>(
        'GET',
        resourcePath(RESOURCES.deviceClass, undefined, shape.deviceClassName),
      ),
      list<V1ResourceSlice>(resourcePath(RESOURCES.resourceSlice)),
      list<ResourceV1ResourceClaim>(resourcePath(RESOURCES.resourceClaim)),
    ]);
    const conditions = [
      ...(deviceClass.spec.selectors ?? []).map((s) => s.cel?.expression ?? ''),
      ...shape.selectors,
    ].flatMap(celConditions);
    return draSurgeSlots(
      nodes.filter((n) => placementAllows(n, shape)),
      slices,
      claims,
      conditions,
      shape.count,
    );
  } catch {
    return undefined;
  }
}
