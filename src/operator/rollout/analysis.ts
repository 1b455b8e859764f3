// Canary analysis: the canary's and the stable version's request count, 5xx
// count and p99 latency (and, for a quality gate, their feedback counters),
// read from the runtime's own metrics, and the verdict against the spec's
// thresholds. Series are told apart by the runtime's `version` label, which
// every runtime sample carries.
import type { V1Pod } from '@kubernetes/client-node';
import type { CanaryAnalysisResult, ModelDeployment } from '../../api/v1alpha1/index.js';
import { LABEL_TRACK } from '../builders/labels.js';
import type { Sample } from '../metrics-source/exposition.js';
import { CounterWindows } from './counter-windows.js';
import { sumSamples } from '../metrics-source/exposition.js';
import { scrapePods } from '../metrics-source/pod-scrape.js';
import type { Fetcher } from '../metrics-source/prometheus.js';
import { httpFetcher, queryVectorSum } from '../metrics-source/prometheus.js';
import { podReady } from '../kube/pod-ready.js';
import { MODEL_QUALITY_METRICS, RUNTIME_METRICS } from '../../contract/runtime.js';
import type { QualityFigures } from './quality-verdict.js';
import { gatesOnQuality, judgeQuality } from './quality-verdict.js';

export const REQUESTS = RUNTIME_METRICS.requests;
export const LATENCY_BUCKETS = `${RUNTIME_METRICS.requestDuration}_bucket`;
export const LABELLED = MODEL_QUALITY_METRICS.labelled;
export const CORRECT = MODEL_QUALITY_METRICS.correct;
export const ABSOLUTE_ERROR_SUM = `${MODEL_QUALITY_METRICS.absoluteError}_sum`;
export const ABSOLUTE_ERROR_COUNT = `${MODEL_QUALITY_METRICS.absoluteError}_count`;
/** The counters a pod scrape keeps: requests, latency and the feedback counters. */
const ANALYSED = new Set([
  REQUESTS,
  LATENCY_BUCKETS,
  LABELLED,
  CORRECT,
  ABSOLUTE_ERROR_SUM,
  ABSOLUTE_ERROR_COUNT,
]);
const SERVER_ERROR = /^5\d\d$/;

/** What one version served in the analysis window (and, with quality tracking, how well). */
export interface TrackFigures extends QualityFigures {
  requests: number;
  errors: number;
  /** Undefined when no request was timed. */
  p99Ms?: number;
}

export interface AnalysisRequest {
  md: ModelDeployment;
  canaryVersion: string;
  stableVersion: string;
  /** Start of the window (the step's start). */
  since: Date;
  now: Date;
  /** Pods of the model, every track. */
  pods: V1Pod[];
}

export interface AnalysisFigures {
  canary: TrackFigures;
  stable?: TrackFigures;
}

export interface AnalysisReader {
  /** The figures, or an error saying why they cannot be read now. */
  read(req: AnalysisRequest): Promise<AnalysisFigures | { error: string }>;
}

/** The q-quantile of a cumulative histogram, interpolated linearly inside a bucket as Prometheus does. */
export function histogramQuantile(
  q: number,
  buckets: { le: number; count: number }[],
): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total <= 0 || sorted.at(-1)?.le !== Infinity) return undefined;
  const rank = q * total;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lowerLe;
      if (b.count === lowerCount) return b.le;
      return lowerLe + ((b.le - lowerLe) * (rank - lowerCount)) / (b.count - lowerCount);
    }
    lowerLe = b.le;
    lowerCount = b.count;
  }
  return lowerLe;
}

/** Reads the figures through Prometheus, over the window since the step started. */
export class PrometheusAnalysis implements AnalysisReader {
  constructor(
    private readonly url: string,
    private readonly fetchText: Fetcher = httpFetcher,
  ) {}

  async read(req: AnalysisRequest): Promise<AnalysisFigures | { error: string }> {
    // At least a few scrapes wide: increase() needs two samples in the window.
    const seconds = Math.max(10, Math.ceil((req.now.getTime() - req.since.getTime()) / 1000));
    try {
      const [canary, stable] = await Promise.all([
        this.track(req.md, req.canaryVersion, seconds),
        this.track(req.md, req.stableVersion, seconds),
      ]);
      return { canary, stable };
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) };
    }
  }

  private async track(md: ModelDeployment, version: string, seconds: number) {
    const sel = `namespace="${md.metadata.namespace!}",model="${md.metadata.name!}",version="${version}"`;
    const [requests, errors, p99] = await Promise.all([
      queryVectorSum(this.url, `sum(increase(${REQUESTS}{${sel}}[${seconds}s]))`, this.fetchText),
      queryVectorSum(
        this.url,
        `sum(increase(${REQUESTS}{${sel},code=~"5.."}[${seconds}s]))`,
        this.fetchText,
      ),
      queryVectorSum(
        this.url,
        `histogram_quantile(0.99, sum by (le) (increase(${LATENCY_BUCKETS}{${sel}}[${seconds}s])))`,
        this.fetchText,
      ),
    ]);
    const figures: TrackFigures = { requests: requests ?? 0, errors: errors ?? 0 };
    if (p99 !== undefined) figures.p99Ms = p99 * 1000;
    if (!gatesOnQuality(md.spec.rollout.canary!.analysis)) return figures;
    // Only a quality gate needs the feedback counters: four more queries a version.
    const increase = (name: string) =>
      queryVectorSum(this.url, `sum(increase(${name}{${sel}}[${seconds}s]))`, this.fetchText);
    const [labelled, correct, errorSum, errorCount] = await Promise.all(
      [LABELLED, CORRECT, ABSOLUTE_ERROR_SUM, ABSOLUTE_ERROR_COUNT].map(increase),
    );
    return withQuality(figures, { labelled, correct, errorSum, errorCount });
  }
}

/** The figures with the feedback counters the runtime reported (an absent series stays absent). */
function withQuality(
  figures: TrackFigures,
  q: { labelled?: number; correct?: number; errorSum?: number; errorCount?: number },
): TrackFigures {
  const out = { ...figures };
  if (q.labelled !== undefined) out.labelled = q.labelled;
  if (q.correct !== undefined) out.correct = q.correct;
  if (q.errorSum !== undefined) out.absoluteErrorSum = q.errorSum;
  if (q.errorCount !== undefined) out.absoluteErrorCount = q.errorCount;
  return out;
}

/**
 * Reads the figures by scraping each ready pod of a track. The counters are
 * windowed by the reader's own snapshots (CounterWindows): a step after the
 * first covers the time since the previous analysis; the first covers each
 * pod's life (for the canary, the step itself).
 */
export class PodScrapeAnalysis implements AnalysisReader {
  private readonly windows = new CounterWindows();

  constructor(private readonly fetchText: Fetcher = httpFetcher) {}

  async read(req: AnalysisRequest): Promise<AnalysisFigures | { error: string }> {
    const canary = await this.track(req, 'canary', req.canaryVersion);
    if ('error' in canary) return canary;
    const stable = await this.track(req, 'stable', req.stableVersion);
    return 'error' in stable ? { canary } : { canary, stable };
  }

  private async track(
    req: AnalysisRequest,
    track: string,
    version: string,
  ): Promise<TrackFigures | { error: string }> {
    const ready = req.pods.filter(
      (p) => p.metadata?.labels?.[LABEL_TRACK] === track && p.status?.podIP && podReady(p),
    );
    if (ready.length === 0) return { error: `no ready ${track} pods to read metrics from` };
    const perPod = (await scrapePods(ready, this.fetchText)).map((r) => {
      if (!('samples' in r)) return undefined;
      const counters = r.samples.filter((s) => ANALYSED.has(s.name));
      const p = r.pod;
      const pod = p.metadata?.uid ?? `${p.metadata?.namespace}/${p.metadata?.name}`;
      return this.windows.window(pod, counters, req.since.getTime(), req.now.getTime());
    });
    if (perPod.every((s) => s === undefined)) {
      return { error: `could not scrape any ${track} pod` };
    }
    const samples = perPod.flatMap((s) => s ?? []);
    return figuresFromSamples(samples, version);
  }
}

/** A version's figures from raw runtime samples (cumulative counters). */
export function figuresFromSamples(samples: Sample[], version: string): TrackFigures {
  const requests = sumSamples(samples, REQUESTS, { version }) ?? 0;
  const errors = sumSamples(samples, REQUESTS, { version, code: SERVER_ERROR }) ?? 0;
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== LATENCY_BUCKETS || s.labels['version'] !== version) continue;
    const le = s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  const p99 = histogramQuantile(
    0.99,
    [...byLe].map(([le, count]) => ({ le, count })),
  );
  const figures: TrackFigures = { requests, errors };
  if (p99 !== undefined) figures.p99Ms = p99 * 1000;
  return withQuality(figures, {
    labelled: sumSamples(samples, LABELLED, { version }),
    correct: sumSamples(samples, CORRECT, { version }),
    errorSum: sumSamples(samples, ABSOLUTE_ERROR_SUM, { version }),
    errorCount: sumSamples(samples, ABSOLUTE_ERROR_COUNT, { version }),
  });
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** The verdict on a canary's figures: True passes, False rolls back, Unknown waits. */
export function judgeAnalysis(
  md: ModelDeployment,
  figures: AnalysisFigures | { error: string },
  now: string,
): CanaryAnalysisResult & { passed: 'True' | 'False' | 'Unknown'; message: string } {
  const t = md.spec.rollout.canary!.analysis;
  if ('error' in figures) {
    return { time: now, passed: 'Unknown', message: `no figures yet: ${figures.error}` };
  }
  const { canary, stable } = figures;
  const result: CanaryAnalysisResult = { time: now, canaryRequests: round(canary.requests, 1) };
  if (canary.requests > 0) result.canaryErrorRate = round(canary.errors / canary.requests, 4);
  if (canary.p99Ms !== undefined) result.canaryLatencyP99Ms = round(canary.p99Ms, 2);
  if (stable && stable.requests > 0)
    result.stableErrorRate = round(stable.errors / stable.requests, 4);
  if (stable?.p99Ms !== undefined) result.stableLatencyP99Ms = round(stable.p99Ms, 2);

  if (canary.requests < t.minRequests || canary.requests === 0) {
    return {
      ...result,
      passed: 'Unknown',
      message: `waiting for traffic: the canary served ${Math.floor(canary.requests)} of the ${t.minRequests} requests an analysis needs`,
    };
  }
  const rate = canary.errors / canary.requests;
  const breaches: string[] = [];
  if (rate > t.maxErrorRate) {
    breaches.push(
      `error rate ${round(rate, 4)} > ${t.maxErrorRate} (${Math.round(canary.errors)} of ${Math.round(canary.requests)} requests failed)`,
    );
  }
  if (
    t.maxLatencyP99Ms !== undefined &&
    canary.p99Ms !== undefined &&
    canary.p99Ms > t.maxLatencyP99Ms
  ) {
    breaches.push(`p99 latency ${round(canary.p99Ms, 1)} ms > ${t.maxLatencyP99Ms} ms`);
  }
  // A breach of the error rate or latency rolls back without waiting for feedback.
  const quality = judgeQuality(t, canary, stable);
  Object.assign(result, quality.result);
  if (quality.outcome === 'fail') breaches.push(quality.message);
  if (breaches.length) return { ...result, passed: 'False', message: breaches.join('; ') };
  if (quality.outcome === 'wait') return { ...result, passed: 'Unknown', message: quality.message };
  const p99 = canary.p99Ms !== undefined ? `, p99 ${round(canary.p99Ms, 1)} ms` : '';
  const accuracy = quality.outcome === 'pass' ? `; ${quality.message}` : '';
  return {
    ...result,
    passed: 'True',
    message: `error rate ${round(rate, 4)} <= ${t.maxErrorRate}${p99} over ${Math.round(canary.requests)} requests${accuracy}`,
  };
}
