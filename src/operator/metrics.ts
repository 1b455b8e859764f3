// Operator metrics under controller-runtime's names and labels, so existing
// controller dashboards and alerts work unchanged. A private registry per
// operator instance (never prom-client's global one).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const CONTROLLER = 'modeldeployment';

export interface WorkqueueMetrics {
  depth: { set(v: number): void };
  adds: { inc(): void };
  retries: { inc(): void };
  queueDuration: { observe(seconds: number): void };
  workDuration: { observe(seconds: number): void };
}

export const RECONCILE_RESULTS = ['success', 'error', 'requeue', 'requeue_after'] as const;
export type ReconcileResultLabel = (typeof RECONCILE_RESULTS)[number];

const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1,
  1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
const QUEUE_BUCKETS = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10, 100, 1000];

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly terminalErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly activeWorkers: Gauge<'controller'>;
  readonly maxWorkers: Gauge<'controller'>;
  readonly apiWrites: Counter<'verb' | 'resource'>;
  readonly leader: Gauge;
  readonly workqueue: WorkqueueMetrics;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry;
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: r });
    this.reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers: [r],
    });
    this.reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers: [r],
    });
    this.terminalErrors = new Counter({
      name: 'controller_runtime_terminal_reconcile_errors_total',
      help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'],
      registers: [r],
    });
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: DURATION_BUCKETS,
      registers: [r],
    });
    this.activeWorkers = new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registers: [r],
    });
    this.maxWorkers = new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registers: [r],
    });
    this.apiWrites = new Counter({
      name: 'tensorfleet_operator_api_writes_total',
      help: 'Write requests the operator sent to the API server, by verb and resource',
      labelNames: ['verb', 'resource'],
      registers: [r],
    });
    this.leader = new Gauge({
      name: 'leader_election_master_status',
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.',
      labelNames: ['name'],
      registers: [r],
    });

    const wq = { name: CONTROLLER, controller: CONTROLLER };
    const labelNames = ['name', 'controller'] as const;
    const depth = new Gauge({
      name: 'workqueue_depth',
      help: 'Current depth of workqueue',
      labelNames,
      registers: [r],
    });
    const adds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue',
      labelNames,
      registers: [r],
    });
    const retries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      labelNames,
      registers: [r],
    });
    const queueDuration = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames,
      buckets: QUEUE_BUCKETS,
      registers: [r],
    });
    const workDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames,
      buckets: QUEUE_BUCKETS,
      registers: [r],
    });
    this.workqueue = {
      depth: { set: (v) => depth.set(wq, v) },
      adds: { inc: () => adds.inc(wq) },
      retries: { inc: () => retries.inc(wq) },
      queueDuration: { observe: (s) => queueDuration.observe(wq, s) },
      workDuration: { observe: (s) => workDuration.observe(wq, s) },
    };

    // Zero every label combination so that rate() works from the first scrape.
    for (const result of RECONCILE_RESULTS)
      this.reconcileTotal.inc({ controller: CONTROLLER, result }, 0);
    this.reconcileErrors.inc({ controller: CONTROLLER }, 0);
    this.terminalErrors.inc({ controller: CONTROLLER }, 0);
    this.activeWorkers.set({ controller: CONTROLLER }, 0);
    depth.set(wq, 0);
    adds.inc(wq, 0);
    retries.inc(wq, 0);
    this.leader.set({ name: 'tensorfleet' }, 0);
  }
}
