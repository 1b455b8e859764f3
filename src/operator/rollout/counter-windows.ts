// Windows over counters scraped straight from pods, where no Prometheus keeps
// the series: the value at a read minus the pod's latest snapshot taken at or
// before the window's start. Each read is a snapshot, so a canary step's
// window opens at the previous step's analysis; a pod with no snapshot that
// old (new, or the first analysis) counts everything since it started.
import type { Sample } from '../metrics-source/exposition.js';

interface Snapshot {
  at: number;
  values: Map<string, number>;
}

const seriesKey = (s: Sample) =>
  `${s.name}{${Object.entries(s.labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}}`;

export class CounterWindows {
  private readonly pods = new Map<string, Snapshot[]>();

  constructor(
    private readonly maxSnapshotsPerPod = 64,
    private readonly forgetAfterMs = 3_600_000,
  ) {}

  /** The increase of each counter in `samples` since `since`, recording this read as a snapshot. */
  window(pod: string, samples: Sample[], since: number, now: number): Sample[] {
    const history = this.pods.get(pod) ?? [];
    let base = -1;
    for (let i = history.length - 1; i >= 0; i--) {
      if (history[i]!.at <= since) {
        base = i;
        break;
      }
    }
    let before = base >= 0 ? history[base]!.values : undefined;
    // A counter below its snapshot means the runtime restarted: all of it is new.
    if (samples.some((s) => s.value < (before?.get(seriesKey(s)) ?? 0))) before = undefined;
    const increase = samples.map((s) => {
      const was = before?.get(seriesKey(s));
      return was === undefined ? s : { ...s, value: s.value - was };
    });
    // Windows only move forward, so snapshots older than the base are spent;
    // the base itself stays while reads within its window pile up after it.
    const kept = history.slice(Math.max(0, base));
    kept.push({ at: now, values: new Map(samples.map((s) => [seriesKey(s), s.value])) });
    if (kept.length > this.maxSnapshotsPerPod)
      kept.splice(1, kept.length - this.maxSnapshotsPerPod);
    this.pods.set(pod, kept);
    this.forgetGone(now);
    return increase;
  }

  /** Pods not read for a long time are gone (or their model is). */
  private forgetGone(now: number): void {
    for (const [pod, history] of this.pods) {
      if (now - history[history.length - 1]!.at > this.forgetAfterMs) this.pods.delete(pod);
    }
  }
}
