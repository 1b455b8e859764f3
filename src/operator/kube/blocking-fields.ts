// Fields someone else set that make our apply invalid. Server-side apply
// takes back the fields we set, but leaves the ones another manager owns; when
// such a field is the other member of a one-of pair (`kubectl set env` writes
// `value` where we set `valueFrom`), the merged object is refused (422) and
// every later apply with it. These are replaced by ours first, by a JSON patch.
import { MAP_LISTS } from './compare.js';

/** One JSON patch operation (RFC 6902). */
export type PatchOperation =
  { op: 'remove'; path: string } | { op: 'add' | 'test'; path: string; value: unknown };

type Json = Record<string, unknown>;

/** Groups of which an object may set one member only. */
const ENV_SOURCE = ['value', 'valueFrom'];
const PROBE_HANDLER = ['exec', 'httpGet', 'tcpSocket', 'grpc'];
const LIFECYCLE_HANDLER = ['exec', 'httpGet', 'tcpSocket', 'sleep'];
const VOLUME_SOURCE = [
  'emptyDir',
  'hostPath',
  'secret',
  'configMap',
  'persistentVolumeClaim',
  'projected',
  'downwardAPI',
  'image',
  'csi',
  'ephemeral',
  'nfs',
];

const isObject = (v: unknown): v is Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** JSON pointer escaping of one path segment. */
const segment = (s: string | number): string =>
  String(s).replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * When `desired` sets a member of `group` and `observed` holds another:
 * that one removed and ours put in its place, in one patch, since some
 * groups must have exactly one member set (a probe needs its handler).
 */
function oneOf(
  desired: unknown,
  observed: unknown,
  group: string[],
  path: string,
): PatchOperation[] {
  if (!isObject(desired) || !isObject(observed)) return [];
  if (!group.some((m) => desired[m] !== undefined)) return [];
  const foreign = group.filter((m) => desired[m] === undefined && observed[m] !== undefined);
  if (foreign.length === 0) return [];
  return [
    ...foreign.map((m) => ({ op: 'remove' as const, path: `${path}/${segment(m)}` })),
    ...group
      .filter((m) => desired[m] !== undefined && observed[m] === undefined)
      .map((m) => ({ op: 'add' as const, path: `${path}/${segment(m)}`, value: desired[m] })),
  ];
}

/** Items of list `field` with the same key (compare.ts's MAP_LISTS), with the observed item's index. */
function byKey(
  desired: unknown,
  observed: unknown,
  field: string,
): Array<{ d: Json; o: Json; index: number }> {
  const key = MAP_LISTS[field]!;
  if (!Array.isArray(desired) || !Array.isArray(observed)) return [];
  const pairs: Array<{ d: Json; o: Json; index: number }> = [];
  for (const d of desired) {
    if (!isObject(d)) continue;
    const index = observed.findIndex((o) => isObject(o) && key(o) === key(d));
    if (index >= 0) pairs.push({ d, o: observed[index] as Json, index });
  }
  return pairs;
}

const portKey = MAP_LISTS['ports']!;

/**
 * Ports someone moved to another number under the name of one of ours
 * (`kubectl edit` of the port): apply keeps theirs beside ours by number,
 * and two ports may not share a name. Removed, last first, and ours added.
 */
function renamedPorts(desired: unknown, observed: unknown, path: string): PatchOperation[] {
  if (!Array.isArray(desired) || !Array.isArray(observed)) return [];
  const ours = desired.filter(isObject);
  const keys = new Set(ours.map(portKey));
  const names = new Set<unknown>(ours.map((p) => p['name']).filter((n) => n !== undefined));
  const operations: PatchOperation[] = [];
  observed.forEach((p: unknown, index) => {
    if (isObject(p) && !keys.has(portKey(p)) && names.has(p['name']))
      operations.unshift({ op: 'remove', path: `${path}/${index}` });
  });
  if (operations.length === 0) return [];
  // Ours go in with them: a Service may not be left without ports.
  const present = new Set(observed.filter(isObject).map(portKey));
  for (const p of ours)
    if (!present.has(portKey(p))) operations.push({ op: 'add', path: `${path}/-`, value: p });
  return operations;
}

function containerOperations(d: Json, o: Json, path: string): PatchOperation[] {
  const operations: PatchOperation[] = [...renamedPorts(d['ports'], o['ports'], `${path}/ports`)];
  for (const e of byKey(d['env'], o['env'], 'env'))
    operations.push(...oneOf(e.d, e.o, ENV_SOURCE, `${path}/env/${e.index}`));
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'])
    operations.push(...oneOf(d[probe], o[probe], PROBE_HANDLER, `${path}/${probe}`));
  const dl = d['lifecycle'];
  const ol = o['lifecycle'];
  if (isObject(dl) && isObject(ol))
    for (const hook of ['preStop', 'postStart'])
      operations.push(...oneOf(dl[hook], ol[hook], LIFECYCLE_HANDLER, `${path}/lifecycle/${hook}`));
  return operations;
}

/**
 * The JSON patch that replaces what blocks applying `desired` over
 * `observed` (a Service, or a workload with a pod template), guarded by the
 * observed resourceVersion; undefined when nothing blocks.
 */
export function blockingFieldsPatch(
  desired: unknown,
  observed: unknown,
): PatchOperation[] | undefined {
  if (!isObject(desired) || !isObject(observed)) return undefined;
  const pod = (x: Json): Json | undefined => {
    const spec = x['spec'];
    const template = isObject(spec) ? spec['template'] : undefined;
    const podSpec = isObject(template) ? template['spec'] : undefined;
    return isObject(podSpec) ? podSpec : undefined;
  };
  const operations: PatchOperation[] = [];
  const dspec = desired['spec'];
  const ospec = observed['spec'];
  // A Service's own ports.
  if (isObject(dspec) && isObject(ospec))
    operations.push(...renamedPorts(dspec['ports'], ospec['ports'], '/spec/ports'));
  const dp = pod(desired);
  const op = pod(observed);
  const base = '/spec/template/spec';
  if (dp !== undefined && op !== undefined) {
    for (const list of ['initContainers', 'containers'])
      for (const c of byKey(dp[list], op[list], list))
        operations.push(...containerOperations(c.d, c.o, `${base}/${list}/${c.index}`));
    for (const v of byKey(dp['volumes'], op['volumes'], 'volumes'))
      operations.push(...oneOf(v.d, v.o, VOLUME_SOURCE, `${base}/volumes/${v.index}`));
  }
  if (operations.length === 0) return undefined;
  const metadata = observed['metadata'];
  const version = isObject(metadata) ? metadata['resourceVersion'] : undefined;
  return [
    ...(version === undefined
      ? []
      : [{ op: 'test' as const, path: '/metadata/resourceVersion', value: version }]),
    ...operations,
  ];
}
