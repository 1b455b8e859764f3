// Every model a runtime process serves, by name: `serve` has one, and
// `tensorflow_model_server` one per model of its config file. Each is a
// ServedModel (model-versions.ts) with its own versions, pools and metric
// series in the one registry; this finds a request's model, and answers for
// the process as a whole (readiness, drain, close).

import type { ServeConfig } from '../contract/runtime.js';
import { RuntimeError } from './errors.js';
import type { RuntimeMetrics, VersionStateSample } from './metrics.js';
import type { VersionRef, VersionStatus } from './model-versions.js';
import { ServedModel } from './model-versions.js';
import type { ModelService } from './service.js';

export class ServedModels {
  private readonly byName: Map<string, ServedModel>;
  /** Added while running, not yet available: they do not hold readiness back. */
  private readonly joining = new Set<ServedModel>();
  /** Removed while running, finishing their requests. */
  private readonly retiring = new Map<ServedModel, Promise<void>>();
  /** Settings every model shares (body limit, quality tracking): the first model's. */
  readonly config: ServeConfig;
  /** The first model's metrics; every model's series are in its registry. */
  readonly metrics: RuntimeMetrics;
  /** Resolves once every model has a version available (see ServedModel.loaded). */
  readonly loaded: Promise<void>;

  constructor(models: readonly ServedModel[]) {
    const [first] = models;
    if (first === undefined) throw new Error('a runtime serves at least one model');
    this.byName = new Map(models.map((m) => [m.name, m]));
    if (this.byName.size !== models.length) throw new Error('model names must differ');
    this.config = first.config;
    this.metrics = first.metrics;
    this.loaded = Promise.all(models.map((m) => m.loaded)).then(() => undefined);
  }

  /** The names served, in the order given. */
  get names(): string[] {
    return [...this.byName.keys()];
  }

  /**
   * Serves another model from now on (a reloaded config file). Until it has a
   * version available it answers for itself (503) but does not make the
   * process unready: the models already serving keep their traffic.
   */
  add(model: ServedModel): void {
    if (this.byName.has(model.name)) throw new Error(`model ${model.name} is already served`);
    this.byName.set(model.name, model);
    this.joining.add(model);
    void model.loaded.then(() => this.joining.delete(model));
  }

  /**
   * Stops serving `name`: new requests get MODEL_NOT_FOUND at once, the ones
   * admitted finish; resolves once its versions are closed.
   */
  remove(name: string): Promise<void> {
    const model = this.byName.get(name);
    if (model === undefined) return Promise.resolve();
    this.byName.delete(name);
    this.joining.delete(model);
    const retired = model.retire().finally(() => this.retiring.delete(model));
    this.retiring.set(model, retired);
    return retired;
  }

  /** The served model called `name`, or MODEL_NOT_FOUND. */
  model(name: string): ServedModel {
    const model = this.byName.get(name);
    if (model !== undefined) return model;
    throw new RuntimeError(
      'MODEL_NOT_FOUND',
      `model "${name}" is not served here; this runtime serves ${this.names.map((n) => `"${n}"`).join(', ')}`,
    );
  }

  /** The service a request for `name` and `ref` goes to (ServedModel.resolve). */
  resolve(name: string, ref: VersionRef): ModelService {
    return this.model(name).resolve(name, ref);
  }

  statuses(name: string, ref: VersionRef): VersionStatus[] {
    return this.model(name).statuses(name, ref);
  }

  /** Every model's versions and their states, for the version state gauge. */
  *versionStates(): Iterable<VersionStateSample> {
    for (const [model, served] of this.byName) {
      for (const s of served.versionStatuses()) {
        yield { model, version: s.version, state: s.state, errorCode: s.errorCode };
      }
    }
  }

  /** Ready: every model has a version available, and the process is not draining. */
  get ready(): boolean {
    return [...this.byName.values()].every((m) => m.ready || this.joining.has(m));
  }

  /** Every model still holding versions: served, or removed and finishing. */
  private held(): ServedModel[] {
    return [...this.byName.values(), ...this.retiring.keys()];
  }

  get inflight(): number {
    return this.held().reduce((n, m) => n + m.inflight, 0);
  }

  startDraining(): void {
    for (const m of this.byName.values()) m.startDraining();
  }

  async drain(timeoutMs: number): Promise<boolean> {
    const results = await Promise.all(this.held().map((m) => m.drain(timeoutMs)));
    return results.every(Boolean);
  }

  async close(): Promise<void> {
    await Promise.all(this.held().map((m) => m.close()));
  }
}

/** The models of an app's or gRPC server's options: given, or `service` as one model at its one version. */
export function servedModelsOf(opts: {
  models?: ServedModels;
  service?: ModelService;
}): ServedModels {
  if (opts.models !== undefined) return opts.models;
  if (opts.service !== undefined) return new ServedModels([ServedModel.fixed(opts.service)]);
  throw new Error('the runtime needs served models (models) or a model service (service)');
}
