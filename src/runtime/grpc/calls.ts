// What every unary handler shares: runtime errors turned into gRPC statuses,
// inference calls admitted, counted and timed as REST requests are (metrics
// label protocol="grpc"), and the activity the drain watches. A client's
// deadline becomes the request's deadline in the batcher.

import { RuntimeError, toRuntimeError } from '../errors.js';
import { metricsOf } from '../admission.js';
import type { ServedModels } from '../served-models.js';
import type { GrpcError } from './transport/grpc-error.js';
import { toGrpcError } from './status.js';
import type { SingleRequestCall } from './transport/calls.js';
import type { UnaryHandler } from './transport/server.js';

/** Calls in flight and when the last one ended: the drain waits for quiet. */
export class Activity {
  private active = 0;
  private lastEnd = performance.now();

  begin(): void {
    this.active++;
  }

  end(): void {
    this.active--;
    this.lastEnd = performance.now();
  }

  get inflight(): number {
    return this.active;
  }

  /** How long no call has been running (0 while one is). */
  quietMs(): number {
    return this.active > 0 ? 0 : performance.now() - this.lastEnd;
  }
}

export interface CallContext {
  models: ServedModels;
  activity: Activity;
  /** How Predict answers carry tensors (tfserving-service.ts). */
  predictEncoding: 'typed' | 'content';
}

/**
 * Milliseconds left before the call's deadline, or undefined without one. A
 * deadline already past fails the call here, before it takes a queue slot.
 */
export function timeLeftMs(call: { readonly deadline: number }): number | undefined {
  const at = call.deadline;
  if (!Number.isFinite(at)) return undefined;
  const left = at - Date.now();
  if (left <= 0)
    throw new RuntimeError('DEADLINE_EXCEEDED', "the call's deadline passed before it was queued");
  return left;
}

/** A handler may answer at once or later; what it throws becomes the call's status. */
export type Handler<Req, Res> = (
  request: Req,
  call: SingleRequestCall<Req, Res>,
) => Res | Promise<Res>;

/**
 * A unary handler. Inference calls (`inference: true`) are counted under
 * protocol="grpc" with the HTTP status REST would have answered, so one
 * error-rate query covers both, and under the version that answered them
 * (admission.ts's versionFor, which their handlers call with tracked() for
 * admission); calls for another model are not counted, as on REST.
 */
export function unary<Req, Res>(
  ctx: CallContext,
  inference: boolean,
  handler: Handler<Req, Res>,
): UnaryHandler {
  const handle = (
    call: SingleRequestCall<Req, Res>,
    callback: (err: GrpcError | null, response?: Res) => void,
  ): void => {
    const started = performance.now();
    ctx.activity.begin();
    // An async function, so that a handler throwing at once is answered like one rejecting.
    const run = async (): Promise<Res> => handler(call.request, call);
    const seconds = (): number => (performance.now() - started) / 1000;
    run().then(
      (response) => {
        if (inference) metricsOf(call, ctx.models).observeRequest('grpc', 200, seconds());
        ctx.activity.end();
        callback(null, response);
      },
      (err: unknown) => {
        const e = toRuntimeError(err);
        if (inference && e.code !== 'MODEL_NOT_FOUND' && e.code !== 'VERSION_NOT_FOUND')
          metricsOf(call, ctx.models).observeRequest('grpc', e.status, seconds());
        ctx.activity.end();
        callback(toGrpcError(e));
      },
    );
  };
  // The transport hands each method the call its definition decodes: Req and Res.
  return handle as UnaryHandler;
}

/** A method the runtime does not offer: UNIMPLEMENTED with the reason. */
export function unimplemented(ctx: CallContext, message: string): UnaryHandler {
  return unary(ctx, false, () => {
    throw new RuntimeError('NOT_IMPLEMENTED', message);
  });
}
