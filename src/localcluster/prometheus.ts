// A real Prometheus (built from Go modules into the cache by tools/cluster,
// the same binary the end-to-end tier runs) on loopback for tests and benches,
// scraping loopback targets (every second unless told). Callers give each target the labels
// Prometheus would add for a pod found through a ServiceMonitor (namespace,
// the pod's version and track labels), since kwok's pods are not processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from './manifest.js';
import { freePort } from './ports.js';

export interface ScrapeTarget {
  job: string;
  port: number;
  labels?: Record<string, string>;
}

export interface QueryResult {
  status: string;
  error?: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

export interface PrometheusServer {
  url: string;
  query(expr: string): Promise<QueryResult>;
  stop(): Promise<void>;
}

/**
 * Starts Prometheus and waits until every target has been scraped `minSamples`
 * times. `ruleGroups` (a rule file's groups, e.g. a PrometheusRule's spec.groups)
 * are evaluated at the scrape interval.
 */
export async function startPrometheus(
  targets: ScrapeTarget[],
  minSamples = 3,
  scrapeInterval = '1s',
  ruleGroups: readonly unknown[] = [],
): Promise<PrometheusServer> {
  const binary = (await ensureBinaries()).binaries.prometheus;
  const dir = await mkdtemp(join(tmpdir(), 'tensorfleet-prometheus-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const jobs = targets.map((t) => ({
    job_name: t.job,
    static_configs: [{ targets: [`127.0.0.1:${t.port}`], labels: t.labels ?? {} }],
  }));
  const config = {
    global: { scrape_interval: scrapeInterval, evaluation_interval: scrapeInterval },
    scrape_configs: jobs,
    rule_files: ruleGroups.length > 0 ? [join(dir, 'rules.yml')] : [],
  };
  // JSON is YAML.
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config));
  if (ruleGroups.length > 0) {
    await writeFile(join(dir, 'rules.yml'), JSON.stringify({ groups: ruleGroups }));
  }
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));

  const query = async (expr: string): Promise<QueryResult> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await res.json()) as QueryResult;
  };
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited:\n${log}`);
    }
    const r = await query(
      `count(count_over_time(up[1m]) >= ${minSamples}) == ${targets.length} and min(up) == 1`,
    ).catch(() => undefined);
    if (r?.data.result.length) return { url, query, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `Prometheus did not scrape ${targets.length} targets ${minSamples} times in 120 s`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
