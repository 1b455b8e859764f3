// status.model under spec.model.versionPolicy: which versions the pods hold,
// in which state, on how many pods, from each pod's
// tensorfleet_runtime_model_version_state series. Pure: scrapes in, status out.
import type {
  ModelVersionState,
  ModelVersionStatus,
  ModelVersionsStatus,
} from '../../api/v1alpha1/index.js';
import { RUNTIME_METRICS } from '../../contract/runtime.js';
import type { Sample } from '../metrics-source/exposition.js';
import type { PodScrape } from '../metrics-source/pod-scrape.js';

/**
 * The status state of one runtime series: TF Serving's states, a failed load
 * (END with an error) as FAILED; an unloaded version (END, OK) is no longer
 * held and shows nowhere.
 */
function stateOf(labels: Record<string, string>): ModelVersionState | undefined {
  switch (labels['state']) {
    case 'LOADING':
    case 'AVAILABLE':
    case 'UNLOADING':
      return labels['state'];
    case 'END':
      return labels['error_code'] === 'OK' ? undefined : 'FAILED';
    default:
      return undefined;
  }
}

const STATE_ORDER: readonly ModelVersionState[] = ['AVAILABLE', 'LOADING', 'UNLOADING', 'FAILED'];

/** One pod's versions of `model` and their states (a version in one state per pod). */
export function podVersionStates(
  samples: readonly Sample[],
  model: string,
): Map<number, ModelVersionState> {
  const out = new Map<number, ModelVersionState>();
  for (const s of samples) {
    if (s.name !== RUNTIME_METRICS.modelVersionState || s.value !== 1) continue;
    if (s.labels['model'] !== model) continue;
    const version = Number(s.labels['version']);
    const state = stateOf(s.labels);
    if (!Number.isSafeInteger(version) || version < 1 || state === undefined) continue;
    out.set(version, state);
  }
  return out;
}

/** Pods per version and state, newest version first, then AVAILABLE, LOADING, UNLOADING, FAILED. */
export function aggregateVersionStates(
  pods: readonly ReadonlyMap<number, ModelVersionState>[],
): ModelVersionStatus[] {
  const counts = new Map<string, ModelVersionStatus>();
  for (const pod of pods) {
    for (const [version, state] of pod) {
      const key = `${version} ${state}`;
      const entry = counts.get(key);
      counts.set(key, { version, state, replicas: (entry?.replicas ?? 0) + 1 });
    }
  }
  return [...counts.values()].sort(
    (a, b) => b.version - a.version || STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state),
  );
}

/**
 * status.model from one read of the model's running pods. A pod that could
 * not be read is left out of the counts and named in the message.
 */
export function modelVersionsStatus(
  model: string,
  scrapes: readonly PodScrape[],
): ModelVersionsStatus {
  const read = scrapes.flatMap((s) => ('samples' in s ? [podVersionStates(s.samples, model)] : []));
  const failed = scrapes.flatMap((s) => ('error' in s ? [s] : []));
  const versions = aggregateVersionStates(read);
  const available = [
    ...new Set(versions.filter((v) => v.state === 'AVAILABLE').map((v) => v.version)),
  ];
  const status: ModelVersionsStatus = { versions };
  if (available.length > 0) status.available = available.join(',');
  if (scrapes.length === 0) status.message = 'no running pod to read the versions from';
  else if (failed.length > 0) {
    const first = failed[0]!;
    status.message = truncate(
      `could not read the versions of ${failed.length} of ${scrapes.length} pods (${first.pod.metadata?.name ?? '?'}: ${first.error})`,
    );
  }
  return status;
}

const MESSAGE_MAX = 1024;
const truncate = (s: string): string =>
  s.length <= MESSAGE_MAX ? s : `${s.slice(0, MESSAGE_MAX - 1)}…`;
