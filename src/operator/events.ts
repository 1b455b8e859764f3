// Kubernetes Events (events.k8s.io/v1) for transitions a user should see in
// `kubectl describe md`. Emitted only on transitions, never per reconcile, and
// the same event for the same object is not repeated within a window.
import { randomBytes } from 'node:crypto';
import type { KubeClient } from './kube/client.js';
import { microTime } from './kube/time.js';
import { RESOURCES } from './kube/types.js';
import type { KubeObject } from './kube/types.js';
import type { Logger } from './logger.js';

export const REPORTING_CONTROLLER = 'tensorfleet.dev/operator';

export type EventType = 'Normal' | 'Warning';

export interface EventSink {
  emit(regarding: KubeObject, type: EventType, reason: string, note: string, action?: string): void;
}

export class EventRecorder implements EventSink {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly client: KubeClient,
    private readonly instance: string,
    private readonly logger: Logger,
    private readonly dedupeMs = 10 * 60_000,
  ) {}

  emit(
    regarding: KubeObject,
    type: EventType,
    reason: string,
    note: string,
    action = 'Reconcile',
  ): void {
    const key = `${regarding.metadata.uid ?? ''}/${reason}/${note}`;
    const now = Date.now();
    const last = this.recent.get(key);
    if (last !== undefined && now - last < this.dedupeMs) return;
    this.recent.set(key, now);
    if (this.recent.size > 10_000) this.prune(now);
    const name = `${regarding.metadata.name}.${randomBytes(8).toString('hex')}`;
    this.client
      .create(RESOURCES.event, {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name, namespace: regarding.metadata.namespace ?? 'default' },
        eventTime: microTime(new Date(now)),
        reportingController: REPORTING_CONTROLLER,
        reportingInstance: this.instance,
        action,
        reason,
        note: note.slice(0, 1024),
        type,
        regarding: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          name: regarding.metadata.name,
          namespace: regarding.metadata.namespace,
          uid: regarding.metadata.uid,
          resourceVersion: regarding.metadata.resourceVersion,
        },
      } as KubeObject)
      // An event that cannot be written must not fail the reconcile.
      .catch((err: unknown) =>
        this.logger.warn('event not recorded', {
          reason,
          error: err instanceof Error ? err.message : String(err),
        }),
      );
  }

  private prune(now: number): void {
    for (const [k, t] of this.recent) if (now - t >= this.dedupeMs) this.recent.delete(k);
  }
}
