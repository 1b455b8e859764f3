// Reads runtime pods' own /metrics directly: every pod at once, each read
// bounded by a timeout, so a pod that does not answer costs at most that wait
// and never fails the others. Shared by the builtin autoscaler, canary
// analysis and the model version status.
import type { V1Pod } from '@kubernetes/client-node';
import { RUNTIME_PORT } from '../../contract/runtime.js';
import type { Sample } from './exposition.js';
import { parseExposition } from './exposition.js';
import type { Fetcher } from './prometheus.js';

/** How long one pod's /metrics may take. */
export const POD_SCRAPE_TIMEOUT_MS = 2000;

export type PodScrape =
  | { readonly pod: V1Pod; readonly samples: Sample[] }
  | { readonly pod: V1Pod; readonly error: string };

/** A pod's /metrics URL, or undefined while it has no IP. */
export function podMetricsUrl(pod: V1Pod): string | undefined {
  const ip = pod.status?.podIP;
  return ip ? `http://${ip.includes(':') ? `[${ip}]` : ip}:${RUNTIME_PORT}/metrics` : undefined;
}

/** Each pod's samples, or why they could not be read; never rejects. */
export function scrapePods(
  pods: readonly V1Pod[],
  fetchText: Fetcher,
  timeoutMs = POD_SCRAPE_TIMEOUT_MS,
): Promise<PodScrape[]> {
  return Promise.all(
    pods.map(async (pod): Promise<PodScrape> => {
      const url = podMetricsUrl(pod);
      if (url === undefined) return { pod, error: 'the pod has no IP yet' };
      try {
        return { pod, samples: parseExposition(await fetchText(url, timeoutMs)) };
      } catch (err) {
        return { pod, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}
