// Steady load through a Service, with every request accounted for: each one
// sent is either answered with a correct prediction or counted as a failure
// with its reason.

export interface LoadReport {
  sent: number;
  ok: number;
  /** Reason -> count: HTTP statuses, connection errors, wrong answers. */
  failures: Record<string, number>;
  /** Answers by the version whose values they carry. */
  byVersion: Record<string, number>;
  /** Latencies of answered requests, in milliseconds. */
  latencies: number[];
  /** When each failure happened (ms since the load began) and why; the first 1000. */
  failureLog: Array<{ atMs: number; reason: string }>;
}

export interface Load {
  /** Stops sending, waits for the requests in flight, and reports. */
  stop(): Promise<LoadReport>;
  /** The report so far (a copy). */
  snapshot(): LoadReport;
  /** Milliseconds since the load began (to place events beside `failureLog`). */
  elapsedMs(): number;
}

/**
 * `concurrency` loops, each sending `POST <url>/v1/models/<model>:predict`
 * with a fresh input and checking the answer against `versions` (version ->
 * the function the model computes): any version's value counts as correct.
 */
export function startLoad(options: {
  url: string;
  model: string;
  concurrency: number;
  versions: Readonly<Record<string, (x: number) => number>>;
  timeoutMs?: number;
}): Load {
  const report: LoadReport = {
    sent: 0,
    ok: 0,
    failures: {},
    byVersion: {},
    latencies: [],
    failureLog: [],
  };
  const began = performance.now();
  const fail = (reason: string): void => {
    report.failures[reason] = (report.failures[reason] ?? 0) + 1;
    if (report.failureLog.length < 1000) {
      report.failureLog.push({ atMs: Math.round(performance.now() - began), reason });
    }
  };
  let running = true;
  let counter = 0;
  const loop = async (): Promise<void> => {
    while (running) {
      const x = (counter++ % 1000) - 500;
      report.sent++;
      const sentAt = performance.now();
      try {
        const response = await fetch(`${options.url}/v1/models/${options.model}:predict`, {
          method: 'POST',
          body: JSON.stringify({ instances: [x] }),
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
        const text = await response.text();
        if (response.status !== 200) {
          // Numbers out, so one kind of failure counts as one reason.
          fail(`HTTP ${response.status}: ${text.slice(0, 120).replace(/-?\d+/g, 'N')}`);
          continue;
        }
        const [y] = (JSON.parse(text) as { predictions: number[] }).predictions;
        const version = Object.entries(options.versions).find(([, f]) => f(x) === y)?.[0];
        if (version === undefined) {
          fail(`wrong answer: ${x} -> ${String(y)}`);
          continue;
        }
        report.ok++;
        report.byVersion[version] = (report.byVersion[version] ?? 0) + 1;
        report.latencies.push(performance.now() - sentAt);
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        fail(cause ?? (error as Error).name ?? 'error');
      }
    }
  };
  const loops = Array.from({ length: options.concurrency }, loop);
  const copy = (): LoadReport => ({
    ...report,
    failures: { ...report.failures },
    byVersion: { ...report.byVersion },
    latencies: [...report.latencies],
    failureLog: [...report.failureLog],
  });
  return {
    snapshot: copy,
    elapsedMs: () => Math.round(performance.now() - began),
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return copy();
    },
  };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Failures grouped into runs of the same reason less than a second apart. */
export function failureWindows(
  report: LoadReport,
): Array<{ from: number; to: number; reason: string; count: number }> {
  const windows: Array<{ from: number; to: number; reason: string; count: number }> = [];
  for (const { atMs, reason } of report.failureLog) {
    const last = windows.at(-1);
    if (last !== undefined && last.reason === reason && atMs - last.to < 1000) {
      last.to = atMs;
      last.count++;
    } else windows.push({ from: atMs, to: atMs, reason, count: 1 });
  }
  return windows;
}
