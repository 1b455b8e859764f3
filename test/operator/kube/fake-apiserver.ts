// A scripted stand-in for the API server's list and watch endpoints on
// loopback, for failure modes a real server will not produce on demand
// (half-open watches, 410 Gone, 500s).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface RecordedRequest {
  path: string;
  query: URLSearchParams;
}

export type ListReply = { status: number; body: unknown };

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  /** Answers the next list calls in order; the last one repeats. */
  lists: ListReply[] = [];
  /** Open watch responses, newest last. */
  readonly watches: http.ServerResponse[] = [];
  private readonly server = http
    .createServer((req, res) => this.handle(req, res))
    .on('connection', () => this.connections++);
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  kubeConfig(): KubeConfig {
    return kubeConfigFor(this.port);
  }

  /** Counts TCP connections clients open to this server. */
  connections = 0;

  listCalls(): RecordedRequest[] {
    return this.requests.filter((r) => r.query.get('watch') !== 'true');
  }

  watchCalls(): RecordedRequest[] {
    return this.requests.filter((r) => r.query.get('watch') === 'true');
  }

  /** Sends one watch event on the newest open watch. */
  send(event: unknown): void {
    this.watches.at(-1)!.write(JSON.stringify(event) + '\n');
  }

  endWatch(): void {
    this.watches.at(-1)!.end();
  }

  async stop(): Promise<void> {
    for (const w of this.watches) w.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push({ path: url.pathname, query: url.searchParams });
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      this.watches.push(res);
      return;
    }
    const reply = this.lists.length > 1 ? this.lists.shift()! : this.lists[0];
    res.writeHead(reply?.status ?? 200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(reply?.body ?? { metadata: { resourceVersion: '1' }, items: [] }));
  }
}

export const pod = (name: string, rv: string, labels: Record<string, string> = {}) => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv, labels },
});

export const list = (rv: string, ...items: unknown[]): ListReply => ({
  status: 200,
  body: { metadata: { resourceVersion: rv }, items },
});

/** A kubeconfig for a plain-HTTP server on loopback. */
export function kubeConfigFor(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
    currentContext: 'c',
  });
  return kc;
}
