// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it:
// expiry is judged by when *we* last saw the record change (not by the
// holder's clock), writes use optimistic concurrency (resourceVersion), and a
// leader that cannot renew within the renew deadline stops leading. The
// deadline is kept by a timer, not checked when a request returns: a request
// to a frozen API server is aborted at the deadline, and the leader stops
// then, before the lease (longer than the deadline) lets a standby take over.
// Advisory mode (no leader election) holds the same Lease only to be seen:
// another holder is reported, and nothing stops or waits on it.
import type { KubeClient } from './kube/client.js';
import { isConflict, isNotFound } from './kube/client.js';
import type { KubeObject } from './kube/types.js';
import { RESOURCES } from './kube/types.js';
import { microTime } from './kube/time.js';
import type { Logger } from './logger.js';
import { errorMessage } from './kube/informer.js';

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  /** Called on every attempt that finds the Lease held, and not expired, by someone else. */
  onHeldByOther?: (holder: string) => void;
  /**
   * Advisory: hold the Lease only to be seen (and to see another operator);
   * a lost renewal does not stop the elector, which tries again.
   */
  advisory?: boolean;
  logger: Logger;
}

export class LeaderElector {
  private observed: { record: string; at: number } | undefined;
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Fires at the renew deadline unless a renewal comes first. */
  private deadline: NodeJS.Timeout | undefined;
  /** Aborts the request in flight when the deadline passes. */
  private inflight: AbortController | undefined;
  private resourceVersion: string | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly o: LeaderElectionOptions,
  ) {}

  start(): void {
    void this.tick();
  }

  /** Stops competing; a leader releases the Lease so a successor need not wait for expiry. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
    if (!this.leading) return;
    this.leading = false;
    try {
      const now = microTime(new Date());
      await this.client.replace(
        RESOURCES.lease,
        this.lease({
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
        }),
      );
    } catch (err) {
      this.o.logger.warn('lease not released', { error: errorMessage(err) });
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    // Advisory, a Lease held by another (or one it cannot write) is only looked at again
    // once a lease duration has passed: nothing waits on it.
    const period = this.o.advisory && !this.leading ? this.o.leaseDurationMs : this.o.retryPeriodMs;
    // Jitter keeps candidates from retrying in lockstep.
    const delay = period * (this.leading ? 1 : 1 + Math.random() * 0.2);
    this.timer = setTimeout(() => void this.tick(), delay);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let ok = false;
    const controller = new AbortController();
    this.inflight = controller;
    // A candidate's attempt is bounded by the renew deadline too.
    const bound = this.leading
      ? undefined
      : setTimeout(() => controller.abort(), this.o.renewDeadlineMs);
    try {
      ok = await this.tryAcquireOrRenew(controller.signal);
    } catch (err) {
      // Advisory (no leader election), a Lease it may not write is only a lost hint.
      if (!controller.signal.aborted)
        this.o.logger[this.o.advisory ? 'debug' : 'warn']('leader election request failed', {
          error: errorMessage(err),
        });
    } finally {
      clearTimeout(bound);
      this.inflight = undefined;
    }
    if (this.stopped) return;
    if (ok && !controller.signal.aborted) {
      this.lastRenew = Date.now();
      clearTimeout(this.deadline);
      this.deadline = setTimeout(() => this.loseLeadership(), this.o.renewDeadlineMs);
      if (!this.leading) {
        this.leading = true;
        this.o.logger[this.o.advisory ? 'debug' : 'info']('became leader', {
          lease: `${this.o.namespace}/${this.o.name}`,
          identity: this.o.identity,
        });
        this.o.onStartedLeading();
      }
    }
    this.schedule();
  }

  /** The renew deadline passed without a renewal: stop leading at once. */
  private loseLeadership(): void {
    if (!this.leading || this.stopped) return;
    this.leading = false;
    this.inflight?.abort();
    if (this.o.advisory) {
      this.o.onStoppedLeading();
      return;
    }
    this.stopped = true;
    clearTimeout(this.timer);
    this.o.logger.error('lost leadership: lease not renewed within the renew deadline', {
      lastRenewedMsAgo: Date.now() - this.lastRenew,
    });
    this.o.onStoppedLeading();
  }

  private lease(spec: LeaseSpec): Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.o.name,
        namespace: this.o.namespace,
        ...(this.resourceVersion ? { resourceVersion: this.resourceVersion } : {}),
      },
      spec,
    };
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const now = new Date();
    const durationSeconds = Math.ceil(this.o.leaseDurationMs / 1000);
    let current: Lease;
    try {
      current = await this.client.get<Lease>(RESOURCES.lease, this.o.name, this.o.namespace, {
        signal,
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.resourceVersion = undefined;
      try {
        const created = await this.client.create<Lease>(
          RESOURCES.lease,
          this.lease({
            holderIdentity: this.o.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          }),
          { signal },
        );
        this.resourceVersion = created.metadata.resourceVersion;
        return true;
      } catch (e) {
        if (isConflict(e) || (e instanceof Error && /already exists/.test(e.message))) return false;
        throw e;
      }
    }
    const spec = current.spec ?? {};
    this.resourceVersion = current.metadata.resourceVersion;
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseDurationSeconds]);
    if (this.observed?.record !== record) this.observed = { record, at: now.getTime() };
    const holder = spec.holderIdentity ?? '';
    const heldByOther = holder !== '' && holder !== this.o.identity;
    const expiresAt = this.observed.at + (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && expiresAt > now.getTime()) {
      this.o.onHeldByOther?.(holder);
      return false;
    }

    const mine = holder === this.o.identity;
    try {
      const updated = await this.client.replace<Lease>(
        RESOURCES.lease,
        this.lease({
          holderIdentity: this.o.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
          renewTime: microTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
        }),
        { signal },
      );
      this.resourceVersion = updated.metadata.resourceVersion;
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }
}
