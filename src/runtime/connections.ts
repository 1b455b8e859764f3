// The runtime's HTTP connections, for a drain that loses no request.
//
// A Service balances connections, not requests: once kube-proxy has stopped
// sending new connections to a terminating pod (the preStop pause), clients
// with keep-alive connections to it go on sending on them. So while draining:
// - a request on a connection opened before the drain is served as usual, and
//   its answer carries `Connection: close`, so the client's next request opens
//   a connection that the Service sends elsewhere;
// - a connection left idle is closed once it has been idle for a while (a
//   client sending on it at that very moment is the one race HTTP/1.1 leaves);
// - a connection opened after the drain began (a load balancer that has not
//   caught up) gets a quick 503 with Retry-After;
// - the drain is over when no connection from before it is open.
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
  /** Opened before the drain began. */
  early: boolean;
}

export class Connections {
  private readonly open = new Map<Socket, ConnectionState>();
  private drainingSince: number | undefined;

  /** `maxAgeMs`: answers on a connection older than this close it (0: never). */
  constructor(server: Server, maxAgeMs = 0) {
    server.on('connection', (socket: Socket) => {
      this.open.set(socket, {
        opened: performance.now(),
        busy: 0,
        idleSince: performance.now(),
        early: this.drainingSince === undefined,
      });
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
      if (this.drainingSince !== undefined || old) res.setHeader('connection', 'close');
    });
  }

  startDraining(): void {
    this.drainingSince ??= performance.now();
  }

  /** Whether a request on `socket` is to be refused: it was opened after the drain began. */
  refuses(socket: Socket): boolean {
    return this.drainingSince !== undefined && this.open.get(socket)?.early === false;
  }

  /** Connections opened before the drain that are still open. */
  get earlyOpen(): number {
    let count = 0;
    for (const state of this.open.values()) if (state.early) count++;
    return count;
  }

  /** Ends connections with no request in flight that have been idle for `idleMs`. */
  closeIdle(idleMs: number): void {
    const now = performance.now();
    for (const [socket, state] of this.open) {
      if (state.busy === 0 && now - state.idleSince >= idleMs) socket.end();
    }
  }
}
