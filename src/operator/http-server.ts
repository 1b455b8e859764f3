// The operator's HTTP endpoint: /metrics (Prometheus text), /healthz (the
// process is alive and its watches are running), /readyz (caches synced).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Probes {
  healthy: () => boolean;
  ready: () => boolean;
}

export class OperatorHttpServer {
  private readonly server: http.Server;

  constructor(registry: Registry, probes: Probes) {
    this.server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/metrics') {
        registry
          .metrics()
          .then((text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text))
          .catch((err: unknown) => res.writeHead(500).end(String(err)));
        return;
      }
      const probe =
        path === '/healthz' ? probes.healthy : path === '/readyz' ? probes.ready : undefined;
      if (!probe) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      const ok = probe();
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ok ? 'ok\n' : 'not ok\n');
    });
  }

  /** Listens on host:port; port 0 picks a free one. Returns the bound port. */
  async listen(address: string): Promise<number> {
    const i = address.lastIndexOf(':');
    const host = address.slice(0, i) || '0.0.0.0';
    const port = Number(address.slice(i + 1));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
