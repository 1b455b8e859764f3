// What a reconciler is to the controller, as controller-runtime's
// pkg/reconcile: a key in, a result out, and the one error that is not
// retried. The worker loop that acts on them is controller.ts.

/** Reconciles the object named by a work-queue key (namespace/name). */
export interface Reconciler {
  reconcile(key: string): Promise<ReconcileResult>;
}

export interface ReconcileResult {
  /** Reconcile again after this long even if nothing changes (time-based conditions). */
  requeueAfterMs?: number;
}

/** An error that retrying cannot fix; counted, logged, not retried. */
export class TerminalError extends Error {
  override name = 'TerminalError';
}
