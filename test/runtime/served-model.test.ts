// ServedModel in process, over stand-in services whose loads and requests the
// test finishes by hand: the order of loads and unloads, routing by version,
// label and default, retries of failed loads, and serve's one fixed version.

import { describe, expect, it } from 'vitest';
import type { ServeConfig } from '../../src/contract/runtime.js';
import { serveConfigDefaults } from '../../src/runtime/config.js';
import { RuntimeError } from '../../src/runtime/errors.js';
import { RuntimeMetrics } from '../../src/runtime/metrics.js';
import type { VersionEvents } from '../../src/runtime/model-versions.js';
import { ServedModel } from '../../src/runtime/model-versions.js';
import type { ModelService, ServiceState } from '../../src/runtime/service.js';
import type { VersionWatchEvent } from '../../src/runtime/versions/version-watcher.js';

/** The part of ModelService that ServedModel uses, driven by the test. */
class StandIn {
  state: ServiceState = 'loading';
  isLoaded = false;
  inflight = 0;
  loadingDetail = '';
  error: RuntimeError | undefined;
  closed = false;
  private settle: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private idle: (() => void) | undefined;

  constructor(
    readonly version: number,
    readonly config: ServeConfig,
    readonly metrics: RuntimeMetrics,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
  }

  loaded(): void {
    this.state = 'ready';
    this.isLoaded = true;
    this.settle?.resolve();
  }

  failed(message: string): void {
    this.state = 'failed';
    this.error = new RuntimeError('MODEL_LOAD_FAILED', message);
    this.settle?.reject(this.error);
  }

  startDraining(): void {
    if (this.state === 'ready' || this.state === 'loading') this.state = 'draining';
  }

  drain(): Promise<boolean> {
    this.startDraining();
    if (this.inflight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.idle = () => resolve(true);
    });
  }

  /** A request admitted, and later answered. */
  begin(): () => void {
    this.inflight++;
    return () => {
      this.inflight--;
      if (this.inflight === 0) this.idle?.();
    };
  }

  close(): Promise<void> {
    this.state = 'stopped';
    this.closed = true;
    return Promise.resolve();
  }
}

/** Desired sets pushed by the test, read by ServedModel.follow. */
class Events implements VersionEvents {
  private readonly queue: VersionWatchEvent[] = [];
  private wake: (() => void) | undefined;
  private stopped = false;

  push(versions: number[]): void {
    this.queue.push({ kind: 'desired', versions, missing: [], skipped: [] });
    this.wake?.();
  }

  error(error: RuntimeError): void {
    this.queue.push({ kind: 'error', error, kept: undefined });
    this.wake?.();
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    return Promise.resolve();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<VersionWatchEvent> {
    while (!this.stopped) {
      const event = this.queue.shift();
      if (event !== undefined) yield event;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

function followed(opts: { labels?: Record<string, number>; retries?: number } = {}) {
  const config = serveConfigDefaults({ modelName: 'm', modelUri: '/base' });
  const metrics = new RuntimeMetrics('m', '', { processMetrics: false });
  const made: StandIn[] = [];
  const model = ServedModel.followed({
    name: 'm',
    config,
    metrics,
    labels: opts.labels ?? {},
    ...(opts.retries === undefined ? {} : { loadRetries: { max: opts.retries, intervalMs: 0 } }),
    makeService: (version) => {
      const s = new StandIn(
        version,
        { ...config, modelVersion: String(version) },
        metrics.forVersion(String(version)),
      );
      made.push(s);
      // ServedModel uses only what StandIn has; the rest of ModelService is not reached.
      return s as unknown as ModelService;
    },
  });
  const events = new Events();
  void model.follow(events);
  const latest = (version: number): StandIn => {
    const s = made.filter((m) => m.version === version).at(-1);
    if (s === undefined) throw new Error(`version ${version} was never made`);
    return s;
  };
  return { model, events, made, latest };
}

const states = (model: ServedModel): Record<string, string> =>
  Object.fromEntries(model.statuses('m', undefined).map((s) => [s.version, s.state]));

describe('ServedModel following versions', () => {
  it('loads a new version beside the old, switches once it is warm, unloads the old after its requests', async () => {
    const { model, events, latest } = followed();
    events.push([1]);
    await settle();
    expect(model.ready).toBe(false);
    expect(states(model)).toEqual({ '1': 'LOADING' });
    latest(1).loaded();
    await settle();
    expect(model.ready).toBe(true);

    // A request on version 1 runs while version 2 arrives.
    const answer = latest(1).begin();
    events.push([2]);
    await settle();
    expect(states(model)).toEqual({ '2': 'LOADING', '1': 'AVAILABLE' });
    expect(model.resolve('m', undefined)).toBe(latest(1));
    latest(2).loaded();
    await settle();
    // Version 2 takes every new request; version 1 waits for its request.
    expect(model.resolve('m', undefined)).toBe(latest(2));
    expect(states(model)).toEqual({ '2': 'AVAILABLE', '1': 'UNLOADING' });
    expect(latest(1).closed).toBe(false);
    expect(() => model.resolve('m', { version: '1' })).toThrow(
      'model "m" has no version "1" loaded; available versions: 2',
    );
    answer();
    await settle();
    expect(latest(1).closed).toBe(true);
    expect(states(model)).toEqual({ '2': 'AVAILABLE', '1': 'END' });
    await model.close();
  });

  it('loads a version again when it is selected again while unloading', async () => {
    const { model, events, latest, made } = followed();
    events.push([1]);
    await settle();
    latest(1).loaded();
    events.push([2]);
    await settle();
    const answer = latest(1).begin();
    latest(2).loaded();
    await settle();
    // Version 1 is leaving (a request holds it) when it is selected again.
    events.push([1, 2]);
    await settle();
    expect(made.filter((m) => m.version === 1)).toHaveLength(1);
    answer();
    await settle();
    expect(made.filter((m) => m.version === 1)).toHaveLength(2);
    latest(1).loaded();
    await settle();
    expect(states(model)).toEqual({ '2': 'AVAILABLE', '1': 'AVAILABLE' });
    await model.close();
  });

  it('keeps the old version when the new one fails to load, and retries it', async () => {
    const { model, events, latest, made } = followed({ retries: 1 });
    events.push([1]);
    await settle();
    latest(1).loaded();
    events.push([2]);
    await settle();
    latest(2).failed('bad weights');
    await settle();
    // The retry is loading; version 1 still serves.
    expect(made.filter((m) => m.version === 2)).toHaveLength(2);
    expect(model.resolve('m', undefined)).toBe(latest(1));
    latest(2).failed('bad weights again');
    await settle();
    expect(made.filter((m) => m.version === 2)).toHaveLength(2);
    expect(model.statuses('m', undefined)).toEqual([
      { version: '2', state: 'END', errorCode: 'UNKNOWN', errorMessage: 'bad weights again' },
      { version: '1', state: 'AVAILABLE', errorCode: 'OK', errorMessage: '' },
    ]);
    expect(model.ready).toBe(true);
    await model.close();
  });

  it('routes labels to available versions, and says what is there when it cannot', async () => {
    const { model, events, latest } = followed({ labels: { stable: 1, canary: 2 } });
    events.push([1, 2]);
    await settle();
    latest(1).loaded();
    await settle();
    expect(model.resolve('m', { label: 'stable' })).toBe(latest(1));
    expect(() => model.resolve('m', { label: 'canary' })).toThrow(
      'label "canary" of model "m" names version 2, which is not available; available versions: 1',
    );
    expect(() => model.resolve('m', { label: 'beta' })).toThrow(
      'model "m" has no label "beta"; its labels are stable, canary',
    );
    expect(() => model.resolve('other', undefined)).toThrow(
      'model "other" is not served here; this runtime serves "m"',
    );
    await model.close();
  });

  it('reports why nothing is served until a version appears', async () => {
    const { model, events } = followed();
    events.error(new RuntimeError('NO_MODEL_VERSIONS', 'no version directories under /base'));
    await settle();
    expect(model.ready).toBe(false);
    expect(() => model.statuses('m', undefined)).toThrow(
      expect.objectContaining({ code: 'NO_MODEL_VERSIONS' }),
    );
    expect(() => model.resolve('m', undefined)).toThrow(
      'model "m" has no version loaded: NO_MODEL_VERSIONS: no version directories under /base',
    );
    await model.close();
  });

  it('neither loads nor reports ready while the process drains', async () => {
    const { model, events, latest, made } = followed();
    events.push([1]);
    await settle();
    latest(1).loaded();
    await settle();
    model.startDraining();
    expect(model.ready).toBe(false);
    events.push([2]);
    await settle();
    expect(made).toHaveLength(1);
    expect(model.resolve('m', undefined)).toBe(latest(1));
    await model.close();
    expect(latest(1).closed).toBe(true);
  });
});

describe('ServedModel with one fixed version (serve --model-uri)', () => {
  it('takes the version or a label equal to it, as before versions were followed', () => {
    const config = serveConfigDefaults({ modelName: 'm', modelUri: '/m', modelVersion: '7' });
    const metrics = new RuntimeMetrics('m', '7', { processMetrics: false });
    const service = new StandIn(7, config, metrics) as unknown as ModelService;
    const model = ServedModel.fixed(service);
    expect(model.resolve('m', undefined)).toBe(service);
    expect(model.resolve('m', { version: '7' })).toBe(service);
    expect(model.resolve('m', { label: '7' })).toBe(service);
    expect(() => model.resolve('m', { version: '8' })).toThrow(
      'model "m" has no version "8"; this runtime serves version "7"',
    );
    expect(model.availableVersions()).toEqual(['7']);
    expect(model.statuses('m', undefined)).toEqual([
      { version: '7', state: 'LOADING', errorCode: 'OK', errorMessage: '' },
    ]);
  });
});
