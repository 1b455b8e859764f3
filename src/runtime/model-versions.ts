// One served model and its versions: one ModelService (pool, batcher,
// metrics) per version held, and which one a request goes to. Two ways to
// hold versions:
//  - fixed: the one version `serve --model-uri --model-version` loads, as the
//    operator runs it (nothing is ever loaded or unloaded after start);
//  - followed: the versions a version watcher (versions/version-watcher.ts)
//    selects under a base path, as tensorflow_model_server serves them. A new
//    version loads beside the old ones and is routed to once warm; an old one
//    leaves routing once no longer desired, and is closed once its requests
//    finished (versions/version-actions.ts decides the order).
// Requests: an explicit version goes to it, a label to the version it names,
// none to the highest available version.

import type { ServeConfig } from '../contract/runtime.js';
import { RuntimeError } from './errors.js';
import type { RuntimeLogger } from './logger.js';
import type { RuntimeMetrics } from './metrics.js';
import type { ModelService } from './service.js';
import type { VersionPhase } from './versions/version-actions.js';
import { nextVersionActions } from './versions/version-actions.js';
import type { VersionWatchEvent } from './versions/version-watcher.js';

/** What a request asks for: a version, a label, or (undefined) the default. */
export type VersionRef =
  | { readonly version: string; readonly label?: undefined }
  | { readonly label: string; readonly version?: undefined }
  | undefined;

/** One entry of TF Serving's model_version_status. */
export interface VersionStatus {
  readonly version: string;
  readonly state: 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';
  /** OK, or UNKNOWN for a failed load. */
  readonly errorCode: 'OK' | 'UNKNOWN';
  readonly errorMessage: string;
}

export interface FollowedVersionsOptions {
  name: string;
  /** Shared by every version: batching, workers, timeouts (uri and version are each version's). */
  config: ServeConfig;
  /** The model's metrics; each version gets its own series (forVersion). */
  metrics: RuntimeMetrics;
  /** Label -> version (`/labels/{l}`, ModelSpec.version_label). */
  labels?: Readonly<Record<string, number>>;
  /** Makes the (not started) service of one version. */
  makeService: (version: number) => ModelService;
  logger?: RuntimeLogger | undefined;
  /** A failed load is tried again this many times, after this wait (TF Serving's --max_num_load_retries). */
  loadRetries?: { max: number; intervalMs: number };
}

/** A stream of desired sets that can be stopped (the VersionWatcher). */
export interface VersionEvents extends AsyncIterable<VersionWatchEvent> {
  stop(): Promise<void>;
}

interface VersionEntry {
  readonly version: string;
  readonly service: ModelService;
  /** Settles when start() does (never rejects). */
  readonly started: Promise<void>;
  /** Out of routing: unloading, then ended. */
  leaving: boolean;
  ended: boolean;
  /** The service's close, once begun (an unload and the process's close may both ask). */
  closing?: Promise<void>;
}

function closeEntry(entry: VersionEntry): Promise<void> {
  entry.closing ??= entry.service.close();
  return entry.closing;
}

/** Unloaded versions kept for status (TF Serving lists END versions too). */
const ENDED_KEPT = 8;

/** Extra time an unloading version's requests get beyond their deadline. */
const UNLOAD_GRACE_MS = 5000;

const byNumber = (a: string, b: string): number => Number(a) - Number(b);

function routable(entry: VersionEntry): boolean {
  return !entry.leaving && !entry.ended;
}

/** Warm and serving (draining too: a draining process still answers). */
function available(entry: VersionEntry): boolean {
  const state = entry.service.state;
  return routable(entry) && (state === 'ready' || state === 'draining') && entry.service.isLoaded;
}

function phaseOf(entry: VersionEntry): VersionPhase {
  if (entry.ended) return 'ended';
  if (entry.leaving) return 'unloading';
  if (available(entry)) return 'available';
  return entry.service.state === 'loading' ? 'loading' : 'failed';
}

export class ServedModel {
  readonly name: string;
  readonly config: ServeConfig;
  /** The model's metrics (version "" when followed: requests no version answered). */
  readonly metrics: RuntimeMetrics;
  private readonly entries = new Map<string, VersionEntry>();
  private readonly followed: FollowedVersionsOptions | undefined;
  /** Label -> version; replaced when a reloaded config file changes them. */
  private labels: Readonly<Record<string, number>>;
  private desired: readonly number[] = [];
  /** Why nothing is served, from the watcher (NO_MODEL_VERSIONS, a failed listing). */
  private problem: RuntimeError | undefined;
  private events: VersionEvents | undefined;
  private closed = false;
  /** The process is draining: readiness stays false, versions are no longer loaded or unloaded. */
  private draining = false;
  /** Waits before retrying failed loads, cleared on close. */
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private firstAvailable: (() => void) | undefined;
  /** Followed: resolves once a version is available (fixed: the caller awaits its start). */
  readonly loaded: Promise<void>;

  private constructor(
    name: string,
    config: ServeConfig,
    metrics: RuntimeMetrics,
    followed: FollowedVersionsOptions | undefined,
  ) {
    this.name = name;
    this.config = config;
    this.metrics = metrics;
    this.followed = followed;
    this.labels = followed?.labels ?? {};
    this.loaded = new Promise((resolve) => {
      this.firstAvailable = resolve;
    });
  }

  /** The one version `serve` loads; the caller starts (and awaits) the service. */
  static fixed(service: ModelService): ServedModel {
    const model = new ServedModel(
      service.config.modelName,
      service.config,
      service.metrics,
      undefined,
    );
    const version = service.config.modelVersion;
    model.entries.set(version, {
      version,
      service,
      started: Promise.resolve(),
      leaving: false,
      ended: false,
    });
    return model;
  }

  /** Versions as `events` selects them; call follow() to start. */
  static followed(opts: FollowedVersionsOptions): ServedModel {
    return new ServedModel(opts.name, opts.config, opts.metrics, opts);
  }

  /** Loads and unloads versions as the events say, until stopped or closed. */
  async follow(events: VersionEvents): Promise<void> {
    this.events = events;
    const log = this.followed?.logger;
    for await (const event of events) {
      // Closed, or replaced by refollow(): an event still queued here is stale.
      if (this.closed || this.events !== events) break;
      if (event.kind === 'error') {
        this.problem = event.error;
        log?.warn(
          { code: event.error.code, kept: event.kept },
          `model ${this.name}: ${event.error.message}${event.kept === undefined ? '' : `; still serving ${event.kept.join(', ')}`}`,
        );
        continue;
      }
      this.problem = undefined;
      this.desired = event.versions;
      log?.info(
        { versions: event.versions, missing: event.missing, skipped: event.skipped },
        `model ${this.name}: versions to serve: ${event.versions.join(', ')}`,
      );
      this.reconcile();
    }
  }

  /**
   * Follows another stream of desired sets (a changed version policy or poll
   * interval): the old stream stops, and what is loaded moves to the new
   * selection in the same availability-preserving order as any change.
   */
  async refollow(events: VersionEvents): Promise<void> {
    const old = this.events;
    this.events = events;
    await old?.stop();
    if (this.closed) {
      await events.stop();
      return;
    }
    await this.follow(events);
  }

  /** New labels (a reloaded config file): requests through a label follow them from now on. */
  setLabels(labels: Readonly<Record<string, number>>): void {
    this.labels = labels;
  }

  private reconcile(): void {
    const followed = this.followed;
    if (followed === undefined || this.closed || this.draining) return;
    const phases = new Map<number, VersionPhase>();
    for (const entry of this.entries.values()) phases.set(Number(entry.version), phaseOf(entry));
    const { load, unload } = nextVersionActions(phases, this.desired);
    for (const version of load) this.load(followed, version);
    for (const version of unload) {
      const entry = this.entries.get(String(version));
      if (entry !== undefined && !entry.leaving) void this.unload(entry);
    }
  }

  private load(followed: FollowedVersionsOptions, version: number, attempt = 0): void {
    const service = followed.makeService(version);
    const key = String(version);
    const started = service.start().then(
      () => {
        // Loaded while the process drains: it serves, but readiness stays false.
        if (this.draining) service.startDraining();
        this.firstAvailable?.();
        this.firstAvailable = undefined;
      },
      (err: unknown) => {
        const retries = followed.loadRetries?.max ?? 0;
        const again = attempt < retries;
        followed.logger?.error(
          { err, version, attempt: attempt + 1 },
          `model ${this.name} version ${version} failed to load: ${(err as Error).message}${again ? '; retrying' : ''}`,
        );
        if (again) this.retryLater(followed, version, attempt + 1, entry);
      },
    );
    const entry: VersionEntry = { version: key, service, started, leaving: false, ended: false };
    this.entries.set(key, entry);
    followed.logger?.info({ version }, `model ${this.name}: loading version ${version}`);
    void started.then(() => this.reconcile());
  }

  /** Loads a failed version again after the retry wait, if still wanted and not replaced. */
  private retryLater(
    followed: FollowedVersionsOptions,
    version: number,
    attempt: number,
    failed: VersionEntry,
  ): void {
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      const wanted = this.desired.includes(version);
      if (this.closed || !wanted || this.entries.get(String(version)) !== failed) return;
      void closeEntry(failed);
      this.load(followed, version, attempt);
    }, followed.loadRetries?.intervalMs ?? 0);
    this.retryTimers.add(timer);
  }

  /** Out of routing now; closed once its load settled and its requests finished. */
  private async unload(entry: VersionEntry): Promise<void> {
    const log = this.followed?.logger;
    entry.leaving = true;
    log?.info(
      { version: entry.version, inflight: entry.service.inflight },
      `model ${this.name}: unloading version ${entry.version} once its requests finish`,
    );
    await entry.started;
    const drained = await entry.service.drain(this.config.requestTimeoutMs + UNLOAD_GRACE_MS);
    await closeEntry(entry);
    entry.service.metrics.release();
    entry.ended = true;
    log?.info(
      { version: entry.version, drained },
      `model ${this.name}: version ${entry.version} unloaded`,
    );
    this.pruneEnded();
    // It may have been selected again meanwhile: now it can load anew.
    this.reconcile();
  }

  private pruneEnded(): void {
    const ended = [...this.entries.values()].filter((e) => e.ended);
    for (const entry of ended.slice(0, Math.max(0, ended.length - ENDED_KEPT)))
      this.entries.delete(entry.version);
  }

  /** The versions requests may go to now, ascending. */
  availableVersions(): string[] {
    // serve's one version is the one named, whatever its state (as before versions were followed).
    if (this.followed === undefined) return [this.config.modelVersion];
    return [...this.entries.values()]
      .filter(available)
      .map((e) => e.version)
      .sort(byNumber);
  }

  /** The service a request for `model` and `ref` goes to, or the error it gets. */
  resolve(model: string, ref: VersionRef): ModelService {
    if (model !== this.name) {
      throw new RuntimeError(
        'MODEL_NOT_FOUND',
        `model "${model}" is not served here; this runtime serves "${this.name}"`,
      );
    }
    if (this.followed === undefined) return this.resolveFixed(model, ref);
    if (ref?.label !== undefined) return this.resolveLabel(model, ref.label);
    if (ref?.version !== undefined) {
      const entry = this.entries.get(ref.version);
      if (entry !== undefined && routable(entry)) return entry.service;
      throw new RuntimeError(
        'VERSION_NOT_FOUND',
        `model "${model}" has no version "${ref.version}" loaded; ${this.describeAvailable()}`,
      );
    }
    const candidates = [...this.entries.values()].filter(routable);
    const best =
      candidates.filter(available).sort((a, b) => byNumber(b.version, a.version))[0] ??
      candidates.sort((a, b) => byNumber(b.version, a.version))[0];
    // A version loading or failed answers with its own error (MODEL_NOT_READY).
    if (best !== undefined) return best.service;
    if (this.closed) {
      throw new RuntimeError(
        'DRAINING',
        'the runtime is shutting down and accepts no new requests',
        {
          retryAfterSeconds: 1,
        },
      );
    }
    throw new RuntimeError(
      'MODEL_NOT_READY',
      `model "${model}" has no version loaded${this.problem === undefined ? '' : `: ${this.problem.code}: ${this.problem.message}`}`,
      { retryAfterSeconds: 1 },
    );
  }

  /** `serve`'s one version: a label or version must name it (as before versions were followed). */
  private resolveFixed(model: string, ref: VersionRef): ModelService {
    const entry = [...this.entries.values()][0];
    if (entry === undefined) throw new RuntimeError('INTERNAL', 'no version is held');
    const asked = ref?.version ?? ref?.label;
    if (asked !== undefined && asked !== entry.version) {
      throw new RuntimeError(
        'VERSION_NOT_FOUND',
        `model "${model}" has no version "${asked}"; this runtime serves version "${entry.version}"`,
      );
    }
    return entry.service;
  }

  private resolveLabel(model: string, label: string): ModelService {
    const labels = this.labels;
    const version = labels[label];
    if (version === undefined) {
      const known = Object.keys(labels);
      throw new RuntimeError(
        'VERSION_NOT_FOUND',
        `model "${model}" has no label "${label}"; ${known.length === 0 ? 'it has no labels' : `its labels are ${known.join(', ')}`}`,
      );
    }
    const entry = this.entries.get(String(version));
    if (entry !== undefined && available(entry)) return entry.service;
    throw new RuntimeError(
      'VERSION_NOT_FOUND',
      `label "${label}" of model "${model}" names version ${version}, which is not available; ${this.describeAvailable()}`,
    );
  }

  private describeAvailable(): string {
    const versions = this.availableVersions();
    return versions.length === 0
      ? 'no version is available yet'
      : `available versions: ${versions.join(', ')}`;
  }

  /**
   * TF Serving's model_version_status: every version held, newest first, or
   * the one `ref` names. No version at all: the watcher's reason (NO_MODEL_VERSIONS).
   */
  statuses(model: string, ref: VersionRef): VersionStatus[] {
    if (ref !== undefined) {
      const service = this.resolveForStatus(model, ref);
      const entry = [...this.entries.values()].find((e) => e.service === service);
      return entry === undefined ? [] : [statusOf(entry, ref.version ?? entry.version)];
    }
    this.resolveName(model);
    const all = [...this.entries.values()].sort((a, b) => byNumber(b.version, a.version));
    if (all.length === 0) {
      throw (
        this.problem ??
        new RuntimeError('NO_MODEL_VERSIONS', `no version of model "${model}" has been found yet`)
      );
    }
    return all.map((e) => statusOf(e, e.version));
  }

  /** Every version held and its state, newest first (none yet: empty, never an error). */
  versionStatuses(): VersionStatus[] {
    return [...this.entries.values()]
      .sort((a, b) => byNumber(b.version, a.version))
      .map((e) => statusOf(e, e.version));
  }

  /** Status may name a loading, failed or unloading version (resolve routes only to some). */
  private resolveForStatus(model: string, ref: NonNullable<VersionRef>): ModelService {
    if (this.followed === undefined || ref.label !== undefined) return this.resolve(model, ref);
    this.resolveName(model);
    const entry = this.entries.get(ref.version);
    if (entry !== undefined) return entry.service;
    return this.resolve(model, ref);
  }

  private resolveName(model: string): void {
    if (model !== this.name) this.resolve(model, undefined);
  }

  /** Ready: a version is available and the process is not draining. */
  get ready(): boolean {
    if (this.draining) return false;
    return [...this.entries.values()].some((e) => routable(e) && e.service.state === 'ready');
  }

  /** Requests admitted and not yet answered, over every version. */
  get inflight(): number {
    let n = 0;
    for (const e of this.entries.values()) if (!e.ended) n += e.service.inflight;
    return n;
  }

  /** Why no version serves, when the watcher said (for logs and status). */
  get reason(): RuntimeError | undefined {
    return this.problem;
  }

  /** Readiness goes false; requests are still served until close(). */
  startDraining(): void {
    this.draining = true;
    // No version comes or goes while the process drains (close() waits for the stop).
    void this.events?.stop();
    for (const e of this.entries.values()) if (!e.ended) e.service.startDraining();
  }

  /** Waits for every version's admitted requests. */
  async drain(timeoutMs: number): Promise<boolean> {
    const held = [...this.entries.values()].filter((e) => !e.ended);
    const results = await Promise.all(held.map((e) => e.service.drain(timeoutMs)));
    return results.every(Boolean);
  }

  /**
   * The model is no longer served (removed from a reloaded config file; the
   * caller has taken it out of routing): following stops, and each version is
   * closed once the requests it admitted are answered, as an unloaded version is.
   */
  async retire(): Promise<void> {
    this.closed = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    await this.events?.stop();
    const held = [...this.entries.values()].filter((e) => !e.ended && !e.leaving);
    await Promise.all(held.map((e) => this.unload(e)));
  }

  /** Stops following and closes every version. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    await this.events?.stop();
    await Promise.all([...this.entries.values()].filter((e) => !e.ended).map(closeEntry));
  }
}

function statusOf(entry: VersionEntry, version: string): VersionStatus {
  const service = entry.service;
  const ok = { errorCode: 'OK', errorMessage: '' } as const;
  if (entry.ended) return { version, state: 'END', ...ok };
  if (entry.leaving) return { version, state: 'UNLOADING', ...ok };
  switch (service.state) {
    case 'loading':
      return { version, state: 'LOADING', errorCode: 'OK', errorMessage: service.loadingDetail };
    case 'ready':
      return { version, state: 'AVAILABLE', ...ok };
    case 'draining':
      return { version, state: 'UNLOADING', ...ok };
    case 'stopped':
      return { version, state: 'END', ...ok };
    case 'failed':
      return {
        version,
        state: 'END',
        errorCode: 'UNKNOWN',
        errorMessage: service.error?.message ?? 'the model failed to load',
      };
  }
}
