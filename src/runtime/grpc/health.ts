// grpc.health.v1.Health, which the kubelet's gRPC probe and grpc-health-probe
// call. The server ("") and each served service are SERVING when the model is
// loaded, warmed up and not draining (REST's readiness), NOT_SERVING otherwise;
// another service name is NOT_FOUND, as the protocol asks.

import { RuntimeError } from '../errors.js';
import type { ServedModels } from '../served-models.js';
import type { CallContext } from './calls.js';
import { unary } from './calls.js';
import { SERVICE_NAMES } from './protos.js';
import type { SingleRequestCall } from './transport/calls.js';
import type { ServiceImplementation } from './transport/server.js';

type WatchCall = SingleRequestCall<HealthCheckRequest, HealthCheckResponse>;

type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

interface HealthCheckRequest {
  service?: string;
}

interface HealthCheckResponse {
  status: ServingStatus;
}

/** How often a Watch looks for a change of readiness. */
const WATCH_POLL_MS = 250;

/** Names a health check may ask about: the server, and each service it serves. */
export const HEALTH_SERVICES = ['', ...Object.values(SERVICE_NAMES)];

function statusOf(models: ServedModels): ServingStatus {
  return models.ready ? 'SERVING' : 'NOT_SERVING';
}

function known(name: string): boolean {
  return HEALTH_SERVICES.includes(name);
}

export class HealthService {
  /** Each Watch running, and what stops it. */
  private readonly watches = new Map<WatchCall, () => void>();
  private readonly ctx: CallContext;

  constructor(ctx: CallContext) {
    this.ctx = ctx;
  }

  implementation(): ServiceImplementation {
    const { models } = this.ctx;
    return {
      Check: unary<HealthCheckRequest, HealthCheckResponse>(this.ctx, false, (request) => {
        const name = request.service ?? '';
        if (!known(name))
          throw new RuntimeError(
            'NOT_FOUND',
            `no service "${name}" here; ask for "" or one of ${HEALTH_SERVICES.slice(1).join(', ')}`,
          );
        return { status: statusOf(models) };
      }),
      List: unary(this.ctx, false, () => ({
        statuses: Object.fromEntries(
          HEALTH_SERVICES.map((name) => [name, { status: statusOf(models) }]),
        ),
      })),
      // The transport hands Watch the call its definition decodes.
      Watch: (call: SingleRequestCall<unknown, unknown>) => this.watch(call as WatchCall),
    };
  }

  /** Sends the status now and at each change, until the client leaves or the server closes. */
  private watch(call: WatchCall): void {
    const name = call.request.service ?? '';
    let last: ServingStatus | undefined;
    const send = (): void => {
      const now = known(name) ? statusOf(this.ctx.models) : 'SERVICE_UNKNOWN';
      if (now !== last) call.write({ status: now });
      last = now;
    };
    send();
    const timer = setInterval(send, WATCH_POLL_MS);
    const stop = (): void => {
      clearInterval(timer);
      this.watches.delete(call);
    };
    this.watches.set(call, stop);
    call.once('cancelled', stop);
  }

  /** Ends every Watch (NOT_SERVING last), so that the server's graceful shutdown is not held by them. */
  endWatches(): void {
    for (const [call, stop] of [...this.watches]) {
      stop();
      call.write({ status: 'NOT_SERVING' });
      call.end();
    }
  }
}
