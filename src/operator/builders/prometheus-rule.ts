// Desired Prometheus Operator PrometheusRule for a model's SLOs (spec.monitoring.slo):
// recording rules for the share of bad requests over each window the alerts
// read, and the multi-window, multi-burn-rate alerts of the SRE workbook
// (chapter 5, "Alerting on SLOs"). A burn rate is the bad share divided by the
// error budget (1 - objective): at 1 the budget lasts exactly the SLO window.
// Each alert needs its long window (is the burn real?) and its short window
// (is it still happening?) above the rate, so it fires fast and resets fast.
import type { ModelDeployment, Slo } from '../../api/v1alpha1/index.js';
import { RUNTIME_METRICS } from '../../contract/runtime.js';
import { objectMeta } from './labels.js';

export type SloKind = 'availability' | 'latency';

/** Windows the bad-request ratios are recorded over: every window an alert reads. */
export const SLO_RATE_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'] as const;
type RateWindow = (typeof SLO_RATE_WINDOWS)[number];

/**
 * The workbook's alerts for a 30-day window, as the share of the budget each
 * spends over its long window; the burn rate follows from the SLO's own window
 * (2% of 30 days' budget in 1 hour is a burn rate of 14.4).
 */
export const BURN_RATE_ALERTS = [
  { severity: 'page', long: '1h', short: '5m', budgetShare: 0.02 },
  { severity: 'page', long: '6h', short: '30m', budgetShare: 0.05 },
  { severity: 'ticket', long: '1d', short: '2h', budgetShare: 0.1 },
  { severity: 'ticket', long: '3d', short: '6h', budgetShare: 0.1 },
] as const satisfies readonly {
  severity: 'page' | 'ticket';
  long: RateWindow;
  short: RateWindow;
  budgetShare: number;
}[];

/**
 * Status codes that spend the availability budget: server failures (5xx, and
 * the gRPC errors the runtime maps to them) and 429, which the runtime answers
 * only when its queue is full, i.e. when it lacks capacity. Other 4xx are the
 * caller's mistakes.
 */
export const ERROR_CODES_REGEX = '5..|429';

export const RECORDED = {
  /** Share of bad requests over a window, label slo: availability or latency. */
  badRatio: (w: string) => `namespace_model:tensorfleet_slo_bad_requests:ratio_rate${w}`,
  /** The objective as a ratio (0.999), label slo. */
  objective: 'namespace_model:tensorfleet_slo_objective:ratio',
  /** Share of the window's error budget not yet spent (1: all left, below 0: overspent), label slo. */
  budgetRemaining: 'namespace_model:tensorfleet_slo_error_budget_remaining:ratio',
} as const;

export const ALERT_NAMES: Record<SloKind, string> = {
  availability: 'TensorfleetModelAvailabilityBudgetBurn',
  latency: 'TensorfleetModelLatencyBudgetBurn',
};

interface RecordingRule {
  record: string;
  expr: string;
  labels: Record<string, string>;
}

interface AlertingRule {
  alert: string;
  expr: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: (RecordingRule | AlertingRule)[];
}

export interface PrometheusRuleObject {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'PrometheusRule';
  metadata: ReturnType<typeof objectMeta>;
  spec: { groups: RuleGroup[] };
}

/** Whether the spec wants a PrometheusRule, given whether the cluster has the CRD. */
export function wantsPrometheusRule(md: ModelDeployment, crdInstalled: boolean): boolean {
  const mode = md.spec.monitoring.slo?.enabled;
  return mode === 'true' || (mode === 'auto' && crdInstalled);
}

/** The SLO window in hours ("30d" -> 720). */
function windowHours(window: string): number {
  return Number(window.slice(0, -1)) * 24;
}

const HOURS: Record<RateWindow, number> = {
  '5m': 5 / 60,
  '30m': 0.5,
  '1h': 1,
  '2h': 2,
  '6h': 6,
  '1d': 24,
  '3d': 72,
};

/** Burn rate at which `budgetShare` of the window's budget is spent over `long`. */
export function burnRate(budgetShare: number, long: RateWindow, window: string): number {
  return round((budgetShare * windowHours(window)) / HOURS[long]);
}

/** Floating-point noise off (0.1 * 720 = 72.00000000000001), so rules read as written. */
function round(x: number): number {
  return Number(x.toPrecision(12));
}

/** The `le` label of a bucket bound: Prometheus 3 writes whole bounds as "1.0", Prometheus 2 as "1". */
export function leMatcher(threshold: number): string {
  return Number.isInteger(threshold) ? `le=~"${threshold}(\\\\.0)?"` : `le="${threshold}"`;
}

/** The objectives the spec sets, and their error budgets, as ratios (99.9 -> 0.999 and 0.001). */
function objectives(slo: Slo): { kind: SloKind; objective: number; budget: number }[] {
  const out: { kind: SloKind; percent: number }[] = [];
  if (slo.availability) out.push({ kind: 'availability', percent: slo.availability.objective });
  if (slo.latency) out.push({ kind: 'latency', percent: slo.latency.objective });
  return out.map(({ kind, percent }) => ({ kind, ...asRatios(percent) }));
}

/**
 * An objective in percent as the decimal ratios it stands for, through
 * integers: in floating point 1 - 0.99994 is 0.0000599999999999.
 */
function asRatios(percent: number): { objective: number; budget: number } {
  const scale = 10 ** (String(percent).split('.')[1] ?? '').length;
  const good = Math.round(percent * scale);
  return { objective: good / (100 * scale), budget: (100 * scale - good) / (100 * scale) };
}

/** Label matchers of the model's series (the ServiceMonitor adds namespace; the runtime, model). */
function modelMatchers(md: ModelDeployment): string {
  return `namespace="${md.metadata.namespace!}",model="${md.metadata.name!}"`;
}

/** PromQL for the share of bad requests of one SLI over a range (`[5m]`, `[30d]`). */
function badRatioExpr(md: ModelDeployment, slo: Slo, kind: SloKind, range: string): string {
  const sel = modelMatchers(md);
  const sum = (series: string) => `sum by (namespace, model) (rate(${series}${range}))`;
  if (kind === 'availability') {
    const total = RUNTIME_METRICS.requests;
    // 1 - good/all rather than bad/all: the runtime zeroes the 200 series at
    // start, so the ratio exists (and is 0) before the first failure.
    return `1 - ${sum(`${total}{${sel},code!~"${ERROR_CODES_REGEX}"}`)} / ${sum(`${total}{${sel}}`)}`;
  }
  const hist = RUNTIME_METRICS.requestDuration;
  const le = leMatcher(slo.latency!.thresholdSeconds);
  return `1 - ${sum(`${hist}_bucket{${sel},${le}}`)} / ${sum(`${hist}_count{${sel}}`)}`;
}

function percent(ratio: number): string {
  return `${round(ratio * 100)}%`;
}

function alertRules(
  md: ModelDeployment,
  slo: Slo,
  { kind, objective, budget }: { kind: SloKind; objective: number; budget: number },
) {
  const sloLabels = { namespace: md.metadata.namespace!, model: md.metadata.name!, slo: kind };
  const sel = `{${modelMatchers(md)},slo="${kind}"}`;
  const what =
    kind === 'availability'
      ? 'answered without a server error (5xx or 429)'
      : `answered within ${slo.latency!.thresholdSeconds}s`;
  return (['page', 'ticket'] as const).map((severity): AlertingRule => {
    const pairs = BURN_RATE_ALERTS.filter((a) => a.severity === severity).map((a) => ({
      ...a,
      rate: burnRate(a.budgetShare, a.long, slo.window),
    }));
    // The value of the expression is the burn rate over the long window.
    const expr = pairs
      .map(
        (p) =>
          `(${RECORDED.badRatio(p.long)}${sel} / ${budget} > ${p.rate}` +
          ` and ${RECORDED.badRatio(p.short)}${sel} / ${budget} > ${p.rate})`,
      )
      .join('\nor\n');
    const conditions = pairs
      .map(
        (p) =>
          `${p.rate}x over ${p.long} and ${p.short} (${percent(p.budgetShare)} of the budget in ${p.long})`,
      )
      .join(', or ');
    const annotations: Record<string, string> = {
      summary: `Model {{ $labels.namespace }}/{{ $labels.model }} is spending its ${kind} error budget too fast`,
      description:
        `The ${kind} SLO of {{ $labels.namespace }}/{{ $labels.model }} is ${percent(objective)} of requests ${what} over ${slo.window}` +
        ` (an error budget of ${percent(budget)}). It is burning that budget at {{ $value | printf "%.1f" }}x the rate that would spend it in exactly ${slo.window};` +
        ` this ${severity} alert fires at ${conditions}.`,
    };
    if (slo.runbookUrl) annotations['runbook_url'] = slo.runbookUrl;
    return {
      alert: ALERT_NAMES[kind],
      expr,
      labels: { ...(slo.labels ?? {}), ...sloLabels, severity },
      annotations,
    };
  });
}

/** The model's PrometheusRule; undefined when the spec sets no SLO. */
export function buildPrometheusRule(md: ModelDeployment): PrometheusRuleObject | undefined {
  const slo = md.spec.monitoring.slo;
  if (!slo) return undefined;
  const meta = objectMeta(md, md.metadata.name!);
  const model = { namespace: md.metadata.namespace!, model: md.metadata.name! };
  const recording: RecordingRule[] = [];
  const budgetRules: RecordingRule[] = [];
  const alerts: AlertingRule[] = [];
  for (const target of objectives(slo)) {
    const { kind, objective, budget } = target;
    const labels = { slo: kind };
    for (const w of SLO_RATE_WINDOWS) {
      recording.push({
        record: RECORDED.badRatio(w),
        expr: badRatioExpr(md, slo, kind, `[${w}]`),
        labels,
      });
    }
    budgetRules.push(
      { record: RECORDED.objective, expr: `vector(${objective})`, labels: { ...model, ...labels } },
      {
        record: RECORDED.budgetRemaining,
        expr: `1 - (${badRatioExpr(md, slo, kind, `[${slo.window}]`)}) / ${budget}`,
        labels,
      },
    );
    alerts.push(...alertRules(md, slo, target));
  }
  const group = `tensorfleet-slo.${md.metadata.namespace!}.${md.metadata.name!}`;
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { ...meta, labels: { ...(slo.ruleLabels ?? {}), ...meta.labels } },
    spec: {
      groups: [
        { name: `${group}.burn-rates`, rules: [...recording, ...alerts] },
        // A window-long range is costly to evaluate and changes slowly.
        { name: `${group}.budget`, interval: '5m', rules: budgetRules },
      ],
    },
  };
}
