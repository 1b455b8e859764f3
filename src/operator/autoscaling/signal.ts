// Reads the builtin autoscaler's signal: the total over a model's pods of the
// runtime metric its type names, from Prometheus when one is configured, else
// by scraping each ready pod's /metrics directly (rates from two scrapes).
import type { V1Pod } from '@kubernetes/client-node';
import type { Metric, ModelDeployment } from '../../api/v1alpha1/index.js';
import { signalQuery } from '../builders/scaled-object.js';
import { sumSamples } from '../metrics-source/exposition.js';
import { scrapePods } from '../metrics-source/pod-scrape.js';
import type { Fetcher } from '../metrics-source/prometheus.js';
import { httpFetcher, queryVectorSum } from '../metrics-source/prometheus.js';
import { podReady } from '../kube/pod-ready.js';
import { RUNTIME_METRICS } from '../../contract/runtime.js';

/** Runtime series per metric type, for scraping pods directly. */
export const POD_SERIES: Partial<Record<Metric['type'], { name: string; counter: boolean }>> = {
  concurrency: { name: RUNTIME_METRICS.inflightRequests, counter: false },
  queueDepth: { name: RUNTIME_METRICS.queueDepth, counter: false },
  rps: { name: RUNTIME_METRICS.requests, counter: true },
};

export class SignalReader {
  /** Last counter reading per pod, for rates: uid -> {at, value}. */
  private readonly counters = new Map<string, { at: number; value: number }>();

  constructor(
    private readonly prometheusUrl: string,
    private readonly fetchText: Fetcher = httpFetcher,
    private readonly now: () => number = Date.now,
    /** Off where pods are simulated (kwok): their IPs lead nowhere. */
    private readonly scrapePods = true,
  ) {}

  /** The total signal, or undefined when it cannot be read yet (with why). */
  async read(md: ModelDeployment, pods: V1Pod[]): Promise<{ total?: number; error?: string }> {
    const metric = md.spec.autoscaling.metric;
    if (this.prometheusUrl) return this.fromPrometheus(signalQuery(md, metric));
    if (!this.scrapePods) {
      return { error: 'pods are simulated here (no runtime to scrape): set --prometheus-url' };
    }
    const series = POD_SERIES[metric.type];
    if (!series) {
      return {
        error: `metric type ${metric.type} needs a Prometheus: set the operator's --prometheus-url`,
      };
    }
    return this.fromPods(pods, series);
  }

  private async fromPrometheus(query: string): Promise<{ total?: number; error?: string }> {
    try {
      // sum() over no series is an empty vector: no traffic is no signal yet.
      return { total: (await queryVectorSum(this.prometheusUrl, query, this.fetchText)) ?? 0 };
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) };
    }
  }

  private async fromPods(
    pods: V1Pod[],
    series: { name: string; counter: boolean },
  ): Promise<{ total?: number; error?: string }> {
    const ready = pods.filter((p) => p.status?.podIP && podReady(p));
    if (ready.length === 0) return { error: 'no ready pods to read metrics from' };
    const now = this.now();
    const ok = (await scrapePods(ready, this.fetchText)).flatMap((r) =>
      'samples' in r
        ? [
            {
              uid: r.pod.metadata?.uid ?? r.pod.metadata?.name ?? '',
              value: sumSamples(r.samples, series.name) ?? 0,
            },
          ]
        : [],
    );
    if (ok.length === 0) return { error: `could not scrape any of ${ready.length} ready pods` };
    if (!series.counter) return { total: ok.reduce((s, r) => s + r.value, 0) };
    let total = 0;
    let rated = 0;
    for (const r of ok) {
      const prev = this.counters.get(r.uid);
      this.counters.set(r.uid, { at: now, value: r.value });
      if (prev && now > prev.at && r.value >= prev.value) {
        total += (r.value - prev.value) / ((now - prev.at) / 1000);
        rated++;
      }
    }
    return rated > 0 ? { total } : { error: 'first scrape: a rate needs a second one' };
  }
}
