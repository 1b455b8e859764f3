// tensorflow_model_server's --model_config_file_poll_wait_seconds: the model
// config file is read again every N seconds and what changed is applied to
// the running server, as TF Serving does: a model added is loaded, a model
// removed is unloaded once its requests finish, a changed version policy or
// poll interval moves its versions, changed labels apply at once. A file that
// cannot be read or parsed changes nothing: the running config stays, the
// parser's message is logged and tensorfleet_runtime_model_config_last_reload_successful
// goes to 0 until a good file is read.

import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { RuntimeLogger } from './logger.js';
import type { VersionedModel } from './server.js';

/** What to do to go from the models served to the ones a file now lists. */
export interface ModelChanges {
  /** New names, and names whose base path changed (served anew from the new one). */
  readonly add: readonly VersionedModel[];
  /** Names no longer listed, and names whose base path changed. */
  readonly remove: readonly string[];
  /** Same base path, another policy or poll interval: follow the versions anew. */
  readonly refollow: readonly VersionedModel[];
  /** Same model, other labels. */
  readonly relabel: readonly VersionedModel[];
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Pure: the changes from `current` to `next` (each a list of models with distinct names). */
export function planModelChanges(
  current: readonly VersionedModel[],
  next: readonly VersionedModel[],
): ModelChanges {
  const before = new Map(current.map((m) => [m.name, m]));
  const after = new Set(next.map((m) => m.name));
  const add: VersionedModel[] = [];
  const remove: string[] = current.filter((m) => !after.has(m.name)).map((m) => m.name);
  const refollow: VersionedModel[] = [];
  const relabel: VersionedModel[] = [];
  for (const model of next) {
    const old = before.get(model.name);
    if (old === undefined) add.push(model);
    else if (old.basePath !== model.basePath) {
      // Another directory is another model under the same name.
      remove.push(model.name);
      add.push(model);
    } else {
      if (!same(old.policy, model.policy) || old.pollSeconds !== model.pollSeconds)
        refollow.push(model);
      if (!same(old.labels, model.labels)) relabel.push(model);
    }
  }
  return { add, remove, refollow, relabel };
}

export function hasChanges(c: ModelChanges): boolean {
  return c.add.length + c.remove.length + c.refollow.length + c.relabel.length > 0;
}

export interface ModelConfigReloaderOptions {
  /** Seconds between reads (> 0). */
  everySeconds: number;
  /** Reads and parses the file; throws with the parser's message. */
  read: () => Promise<readonly VersionedModel[]>;
  /** Applies the changes to the running server. */
  apply: (changes: ModelChanges, next: readonly VersionedModel[]) => void;
  /** The models served at start. */
  initial: readonly VersionedModel[];
  /** Names the file in log lines. */
  source: string;
  logger: RuntimeLogger;
  registry: Registry;
}

export class ModelConfigReloader {
  private current: readonly VersionedModel[];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** The last error logged, so that a file broken for an hour is logged once, not every poll. */
  private lastError: string | undefined;
  private readonly successful: Gauge;

  constructor(private readonly opts: ModelConfigReloaderOptions) {
    this.current = opts.initial;
    this.successful = new Gauge({
      name: 'tensorfleet_runtime_model_config_last_reload_successful',
      help: '1 when the last read of the model config file (--model_config_file, re-read every --model_config_file_poll_wait_seconds) was applied; 0 while it cannot be read or parsed and the running config is kept.',
      registers: [opts.registry],
    });
    this.successful.set(1);
  }

  start(): void {
    this.schedule();
  }

  /** Stops reading; waits for a read under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.reload().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.opts.everySeconds * 1000);
  }

  /** One read: applies what changed, or keeps the running config and says why. */
  async reload(): Promise<void> {
    const { logger, source } = this.opts;
    let next: readonly VersionedModel[];
    try {
      next = await this.opts.read();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.successful.set(0);
      if (message !== this.lastError) {
        logger.error(
          { err, code: (err as { code?: string }).code },
          `${source}: keeping the running model config: ${message}`,
        );
      }
      this.lastError = message;
      return;
    }
    this.successful.set(1);
    if (this.lastError !== undefined) {
      logger.info({}, `${source}: the model config file reads again`);
      this.lastError = undefined;
    }
    const changes = planModelChanges(this.current, next);
    if (!hasChanges(changes)) return;
    logger.info(
      {
        added: changes.add.map((m) => m.name),
        removed: changes.remove,
        policyChanged: changes.refollow.map((m) => m.name),
        labelsChanged: changes.relabel.map((m) => m.name),
      },
      `${source}: applying the changed model config`,
    );
    this.opts.apply(changes, next);
    this.current = next;
  }
}
