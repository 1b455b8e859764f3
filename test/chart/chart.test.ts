// Consistency of the chart, image and GitOps files with the code they ship,
// without a cluster (the integration tier renders and installs the chart).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';

import { DEFAULT_CONFIG } from '../../src/operator/config.js';
import { buildPrometheusRule, RECORDED } from '../../src/operator/builders/prometheus-rule.js';
import { OperatorMetrics } from '../../src/operator/metrics.js';
import { RuntimeMetrics } from '../../src/runtime/metrics.js';
import { QualityMetrics } from '../../src/runtime/quality/quality-metrics.js';
import { Registry } from 'prom-client';
import { RESOURCES } from '../../src/operator/kube/types.js';
import { CHART_DIR, type RbacRule } from './helm.js';
import { HEALTH_LUA } from './health.js';
import { modelDeployment } from '../operator/fixtures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
}

const values = yaml.load(read('charts/tensorfleet/values.yaml')) as Record<string, unknown>;
const schema = JSON.parse(read('charts/tensorfleet/values.schema.json')) as Schema;

describe('values.schema.json', () => {
  /** Paths of values.yaml keys the schema has no property for, and of properties lacking a description. */
  function walk(value: unknown, node: Schema, path: string, problems: string[]): void {
    if (path && !node.description) problems.push(`${path}: no description`);
    if (node.type === 'object' && node.properties) {
      if (node.additionalProperties !== false) problems.push(`${path}: allows unknown keys`);
      const object = (value ?? {}) as Record<string, unknown>;
      for (const key of Object.keys(object)) {
        if (!node.properties[key]) problems.push(`${path}.${key}: not in the schema`);
      }
      for (const [key, child] of Object.entries(node.properties)) {
        if (key !== 'global' && !(key in object))
          problems.push(`${path}.${key}: not in values.yaml`);
        walk(object[key], child, `${path}.${key}`, problems);
      }
    }
  }

  it('describes every value in values.yaml, and nothing values.yaml lacks', () => {
    const problems: string[] = [];
    walk(values, schema, '', problems);
    expect(problems).toEqual([]);
  });

  it('fails the walk on an undocumented key (the check can fail)', () => {
    const problems: string[] = [];
    walk({ ...values, surprise: 1 }, schema, '', problems);
    expect(problems).toEqual(['.surprise: not in the schema']);
  });
});

describe('docs/install.md', () => {
  function leaves(node: Schema, path: string): string[] {
    if (node.type === 'object' && node.properties) {
      return Object.entries(node.properties)
        .filter(([key]) => key !== 'global')
        .flatMap(([key, child]) => leaves(child, path ? `${path}.${key}` : key));
    }
    return [path];
  }

  it('lists every value of the chart in its values table', () => {
    const doc = read('docs/install.md');
    const paths = leaves(schema, '');
    expect(paths.length).toBeGreaterThan(50);
    const listed = new Set([...doc.matchAll(/^\| `([\w.]+)` +\|/gm)].map((m) => m[1]));
    expect(paths.filter((path) => !listed.has(path))).toEqual([]);
  });
});

describe('chart defaults match the operator', () => {
  const operator = values.operator as Record<string, unknown> & {
    leaderElection: Record<string, number | boolean>;
  };
  const chart = yaml.load(read('charts/tensorfleet/Chart.yaml')) as { appVersion: string };
  const pkg = JSON.parse(read('package.json')) as { version: string };

  it('appVersion is the package version, and the runtime images carry it', () => {
    expect(chart.appVersion).toBe(pkg.version);
    expect(operator.runtimeImage).toBe(DEFAULT_CONFIG.runtimeImage);
    expect(operator.runtimeGpuImage).toBe(DEFAULT_CONFIG.runtimeGpuImage);
    expect(String(operator.runtimeImage)).toMatch(new RegExp(`:${pkg.version}$`));
  });

  it('settings default to what the operator itself defaults to', () => {
    expect(operator.gpuResourceName).toBe(DEFAULT_CONFIG.gpuResourceName);
    expect(operator.workers).toBe(DEFAULT_CONFIG.workers);
    expect(operator.resyncPeriodSeconds).toBe(DEFAULT_CONFIG.resyncPeriodSeconds);
    expect(operator.logLevel).toBe(DEFAULT_CONFIG.logLevel);
    expect(operator.leaderElection).toEqual({
      enabled: true,
      leaseDurationSeconds: DEFAULT_CONFIG.leaseDurationSeconds,
      renewDeadlineSeconds: DEFAULT_CONFIG.renewDeadlineSeconds,
      retryPeriodSeconds: DEFAULT_CONFIG.retryPeriodSeconds,
    });
  });
});

describe('RBAC rules', () => {
  const helpers = readFileSync(join(CHART_DIR, 'templates/_helpers.tpl'), 'utf8');
  const block = /{{- define "tensorfleet.namespacedRules" -}}\n([\s\S]*?){{- end }}/.exec(helpers);
  const rules = yaml.load(block![1]!) as RbacRule[];
  const groupOf = (apiVersion: string) =>
    apiVersion.includes('/') ? apiVersion.split('/')[0] : '';

  it('cover every namespaced kind the operator reads or writes, with no wildcard', () => {
    // ResourceClaims are read in every namespace (the cluster role in rbac.yaml).
    const used = Object.values(RESOURCES).filter(
      (r) => r.namespaced && !['leases', 'configmaps', 'resourceclaims'].includes(r.plural),
    );
    for (const ref of used) {
      const rule = rules.find(
        (r) => r.resources?.includes(ref.plural) && r.apiGroups?.includes(groupOf(ref.apiVersion)!),
      );
      expect(rule, ref.plural).toBeDefined();
    }
    for (const rule of rules) {
      expect([...rule.verbs, ...(rule.resources ?? []), ...(rule.apiGroups ?? [])]).not.toContain(
        '*',
      );
    }
  });
});

describe('dashboard', () => {
  interface Panel {
    id: number;
    type: string;
    title: string;
    datasource?: { uid: string };
    targets?: { expr: string }[];
  }
  const dashboard = JSON.parse(read('charts/tensorfleet/dashboards/tensorfleet.json')) as {
    uid: string;
    panels: Panel[];
  };
  // What the two processes register, read from their registries (the
  // runtime's quality metrics only with quality tracking on).
  const quality = new Registry();
  new QualityMetrics({
    registry: quality,
    model: 'm',
    version: '1',
    window: 1,
    logEntries: () => 0,
  });
  // And what a model's SLO PrometheusRule records.
  const sloRule = buildPrometheusRule(
    modelDeployment({
      monitoring: {
        slo: {
          availability: { objective: 99.9 },
          latency: { thresholdSeconds: 0.1, objective: 99 },
        },
      },
    }),
  )!;
  const defined = new Set([
    ...[
      ...new RuntimeMetrics('m', '1', { processMetrics: false }).registry.getMetricsAsArray(),
      ...quality.getMetricsAsArray(),
      ...new OperatorMetrics({ defaultMetrics: false }).registry.getMetricsAsArray(),
    ].map((m) => m.name),
    ...sloRule.spec.groups.flatMap((g) =>
      g.rules.flatMap((r) => ('record' in r ? [r.record] : [])),
    ),
  ]);
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  /** Metric names in a PromQL expression (identifiers followed by a selector or range). */
  const metricsIn = (expr: string) =>
    [...expr.replace(/"[^"]*"/g, '""').matchAll(/\b([a-z_:][a-z0-9_:]*)\s*[{[]/g)]
      .map((m) => m[1]!)
      .filter((name) => !['by', 'without', 'rate', 'sum', 'histogram_quantile'].includes(name));

  it('has unique panel ids and the Prometheus data source variable everywhere', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
  });

  it('covers requests, errors, latency, queue, batches, replicas, rollouts, model quality, SLOs and the operator', () => {
    const all = exprs.join('\n');
    for (const metric of [
      'tensorfleet_runtime_requests_total',
      'tensorfleet_runtime_request_duration_seconds_bucket',
      'tensorfleet_runtime_queue_depth',
      'tensorfleet_runtime_batch_size_bucket',
      'tensorfleet_runtime_ready',
      'kube_deployment_spec_replicas',
      'tensorfleet_dev_track',
      'tensorfleet_model_predictions_correct_total',
      'tensorfleet_model_predictions_labelled_total',
      'tensorfleet_model_absolute_error_sum',
      RECORDED.badRatio('1h'),
      RECORDED.objective,
      RECORDED.budgetRemaining,
      'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_time_seconds_bucket',
      'workqueue_depth',
      'tensorfleet_operator_api_writes_total',
    ]) {
      expect(all).toContain(metric);
    }
  });

  it('queries only metrics the runtime or operator export, the SLO rules record, or kube-state-metrics', () => {
    const unknown = exprs
      .flatMap(metricsIn)
      .map((name) => name.replace(/_(bucket|sum|count)$/, ''))
      .filter((name) => !defined.has(name) && !name.startsWith('kube_'));
    expect(unknown).toEqual([]);
    expect(metricsIn('sum(rate(tensorfleet_runtime_nope_total{a="b"}[5m]))')).toEqual([
      'tensorfleet_runtime_nope_total',
    ]);
  });
});

describe('operator image', () => {
  const dockerfile = read('docker/operator.Dockerfile');
  const ignore = read('.dockerignore').split('\n');

  it('installs production dependencies only and runs the built operator as non-root', () => {
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    expect(dockerfile).toMatch(/ENTRYPOINT \["\/nodejs\/bin\/node", "dist\/operator\/main.js"\]/);
    expect(existsSync(join(ROOT, 'src/operator/main.ts'))).toBe(true);
    // The chart's pod security context runs it as the same user.
    expect((values.podSecurityContext as { runAsUser: number }).runAsUser).toBe(65532);
  });

  it('needs only production dependencies: every package the operator imports is one', () => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(
        /(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g,
      )) {
        const spec = (m[1] ?? m[2])!;
        if (!spec.startsWith('.')) {
          packages.add(
            spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!,
          );
          continue;
        }
        const target = join(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (existsSync(target)) visit(target);
      }
    };
    visit(join(ROOT, 'src/operator/main.ts'));
    expect(seen.size).toBeGreaterThan(20);
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    const missing = [...packages].filter((p) => !p.startsWith('node:') && !(p in pkg.dependencies));
    expect(missing).toEqual([]);
    expect(packages).toContain('@kubernetes/client-node');
    // What the Dockerfile deletes from node_modules must be unused by the operator.
    const removed = [...read('docker/operator.Dockerfile').matchAll(/rm -rf node_modules\/(\S+)/g)];
    expect(removed.map((m) => m[1])).toEqual(['@tensorflow']);
    expect([...packages].filter((p) => p.startsWith('@tensorflow/'))).toEqual([]);
  });

  it('keeps local installs out of the build context but not the sources', () => {
    expect(ignore).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
    for (const needed of ['src', 'bin', 'package.json', 'package-lock.json']) {
      expect(ignore).not.toContain(needed);
    }
  });
});

describe('Argo CD', () => {
  it('argocd-cm carries the same Lua as resource_customizations', () => {
    const cm = yaml.load(read('deploy/argocd/argocd-cm.yaml')) as { data: Record<string, string> };
    expect(cm.data['resource.customizations.health.tensorfleet.dev_ModelDeployment']).toBe(
      readFileSync(HEALTH_LUA, 'utf8'),
    );
  });
});

describe('upgrade instructions', () => {
  it('apply the CRD with --force-conflicts wherever they do, since helm install created it', () => {
    for (const path of ['charts/tensorfleet/templates/NOTES.txt', 'docs/upgrade.md']) {
      const text = read(path).replace(/\\\n\s*/g, ' ');
      const applies = text.split('\n').filter((line) => /kubectl apply --server-side/.test(line));
      expect(applies.length, path).toBeGreaterThan(0);
      for (const line of applies) expect(line, path).toContain('--force-conflicts');
    }
  });
});
