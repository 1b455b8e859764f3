// The one writer of ModelDeployment.status. It writes a status only when it
// differs from what the object shows, holds back a change of counters and
// messages alone to fold it into the next transition, trusts its own write
// over a cache that has not caught up, and records transitions as Events.
import type { ModelDeploymentStatus } from '../../api/v1alpha1/index.js';
import type { EventSink } from '../events.js';
import type { KubeClient } from '../kube/client.js';
import { OWN_WRITE_TRUST_MS } from '../kube/cache.js';
import { rfc3339 } from '../kube/time.js';
import type { KubeObject, ModelDeploymentObject } from '../kube/types.js';
import { RESOURCES, objectKey } from '../kube/types.js';
import { stableStringify } from '../stable-stringify.js';
import { failedStatus } from './compute.js';
import type { Reason } from './reasons.js';
import { significant, transitionEvents } from './transitions.js';

/** Longest a counters-only status change waits to be folded into a transition. */
export const STATUS_COALESCE_MS = 5_000;

export interface StatusWriterDeps {
  client: Pick<KubeClient, 'apply'>;
  events: EventSink;
  now: () => Date;
}

export class StatusWriter {
  /** Keys whose minor status change is being held back, with since when. */
  private readonly deferred = new Map<string, number>();
  /** The status we last wrote per key, trusted over a cache that has not caught up yet. */
  private readonly written = new Map<string, { status: ModelDeploymentStatus; at: number }>();

  constructor(private readonly deps: StatusWriterDeps) {}

  /**
   * The object with the status we wrote moments ago when the cache still
   * shows an older one. The operator is status's only writer, and decisions
   * made from a stale status (a canary step already taken) would repeat
   * their events.
   */
  withOwnStatus(md: ModelDeploymentObject | undefined): ModelDeploymentObject | undefined {
    if (!md) return md;
    const key = objectKey(md);
    const memo = this.written.get(key);
    if (!memo) return md;
    if (
      this.nowMs() - memo.at > OWN_WRITE_TRUST_MS ||
      stableStringify(md.status ?? {}) === stableStringify(memo.status)
    ) {
      this.written.delete(key);
      return md;
    }
    return { ...md, status: memo.status };
  }

  /**
   * Writes `next` and records its transitions as Events; or, for a change
   * of counters and messages alone, returns how long it is held back first.
   */
  async update(md: ModelDeploymentObject, next: ModelDeploymentStatus): Promise<number> {
    const before = md.status ?? {};
    const deferMs = this.deferral(objectKey(md), before, next);
    if (deferMs > 0) return deferMs;
    await this.write(md, next);
    for (const e of transitionEvents(before, next))
      this.deps.events.emit(md, e.type, e.reason, e.message, e.action);
    return 0;
  }

  /** Reports that the operator cannot act on the spec (failedStatus), with a Warning Event. */
  async fail(md: ModelDeploymentObject, reason: Reason, message: string): Promise<void> {
    const previous = md.status ?? {};
    const status = failedStatus(md, reason, message, rfc3339(this.deps.now()));
    if (stableStringify(status) === stableStringify(previous)) return;
    await this.write(md, status);
    this.deps.events.emit(md, 'Warning', reason, message);
  }

  forget(key: string): void {
    this.deferred.delete(key);
    this.written.delete(key);
  }

  private async write(md: ModelDeploymentObject, status: ModelDeploymentStatus): Promise<void> {
    if (stableStringify(status) === stableStringify(md.status ?? {})) return;
    await this.deps.client.apply(
      RESOURCES.modelDeployment,
      {
        apiVersion: md.apiVersion,
        kind: md.kind,
        metadata: { name: md.metadata.name, namespace: md.metadata.namespace! },
        status,
      } as KubeObject,
      { subresource: 'status' },
    );
    this.written.set(objectKey(md), { status, at: this.nowMs() });
  }

  /**
   * How long to hold back a status change that only moves counters and
   * messages (a pod created, not yet ready): it is folded into the next
   * transition if one comes within STATUS_COALESCE_MS, else written then.
   * Transitions (condition status or reason, versions, history) go at once.
   */
  private deferral(
    key: string,
    before: ModelDeploymentStatus,
    after: ModelDeploymentStatus,
  ): number {
    const since = this.deferred.get(key);
    const minor =
      stableStringify(significant(before)) === stableStringify(significant(after)) &&
      stableStringify(before) !== stableStringify(after);
    if (!minor) {
      this.deferred.delete(key);
      return 0;
    }
    const now = this.nowMs();
    if (since === undefined) {
      this.deferred.set(key, now);
      return STATUS_COALESCE_MS;
    }
    const left = since + STATUS_COALESCE_MS - now;
    if (left > 0) return left;
    this.deferred.delete(key);
    return 0;
  }

  private nowMs(): number {
    return this.deps.now().getTime();
  }
}
