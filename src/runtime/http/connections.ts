// The runtime's HTTP connections, for a drain that loses no request.
//
// A Service balances connections, not requests, and the endpoint update that
// takes a terminating pod out of rotation reaches kube-proxy (or a load
// balancer) some time after the pod was told to stop: the preStop pause
// covers the usual delay, not every one. So while draining:
// - every request is served as usual, on whichever connection it comes, and
//   its answer carries `Connection: close`, so the client's next request opens
//   a connection that the Service sends elsewhere once it has caught up;
// - a connection left idle for a while is closed (a client sending on it at
//   that very moment is the one race HTTP/1.1 leaves);
// - the drain is over once no connection is open and none has been opened for
//   a quiet period: traffic has stopped arriving. A balancer that lags keeps
//   the pod serving a little longer instead of meeting a closed port.
//
// For the same reason a keep-alive connection is told to close once it is
// older than a maximum age (gRPC's MAX_CONNECTION_AGE, for HTTP/1.1): clients
// that never reconnect would otherwise never reach pods that start later,
// such as a canary or a scale-up.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

interface ConnectionState {
  /** performance.now() when it was opened. */
  opened: number;
  /** Requests received on it and not yet answered. */
  busy: number;
  /** performance.now() when it last became idle (or was opened). */
  idleSince: number;
}

export class Connections {
  private readonly open = new Map<Socket, ConnectionState>();
  private draining = false;
  private lastOpened = performance.now();

  /** `maxAgeMs`: answers on a connection older than this close it (0: never). */
  constructor(server: Server, maxAgeMs = 0) {
    server.on('connection', (socket: Socket) => {
      this.lastOpened = performance.now();
      this.open.set(socket, { opened: this.lastOpened, busy: 0, idleSince: this.lastOpened });
      socket.once('close', () => this.open.delete(socket));
    });
    // First, so the header is set before any handler can answer.
    server.prependListener('request', (req, res) => {
      const state = this.open.get(req.socket);
      if (state !== undefined) {
        state.busy++;
        res.once('close', () => {
          state.busy--;
          state.idleSince = performance.now();
        });
      }
      const old =
        maxAgeMs > 0 && state !== undefined && performance.now() - state.opened > maxAgeMs;
      if (this.draining || old) res.setHeader('connection', 'close');
    });
  }

  /** From now on every answer closes its connection. */
  startDraining(): void {
    this.draining = true;
  }

  /** How long no connection has been open or opened, in ms (0 while one is open). */
  quietMs(): number {
    return this.open.size > 0 ? 0 : performance.now() - this.lastOpened;
  }

  /** Ends connections with no request in flight that have been idle for `idleMs`. */
  closeIdle(idleMs: number): void {
    const now = performance.now();
    for (const [socket, state] of this.open) {
      if (state.busy === 0 && now - state.idleSince >= idleMs) socket.end();
    }
  }
}
