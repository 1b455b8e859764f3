// An HTTPS proxy on 127.0.0.1 that answers for Google's API hosts itself, for
// the credentials whose token endpoint no setting can move: a service-account
// key's exchange always goes to https://www.googleapis.com/oauth2/v4/token in
// Google's Node.js auth library. A child process given HTTPS_PROXY (honoured by
// that library, as by most HTTP clients) and NODE_EXTRA_CA_CERTS (trusting
// this proxy's CA) reaches the handler here instead of Google, over real TLS,
// and nothing leaves loopback: the proxy refuses every host it does not serve.

import type { Socket } from 'node:net';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { TLSSocket, createSecureContext } from 'node:tls';
import { generatePki, signedByCa } from '../../../src/localcluster/pki.js';
import type { Handler } from './token-servers.js';
import { handleWith } from './token-servers.js';

export interface GoogleApisProxy {
  /** http://127.0.0.1:<port>, for HTTPS_PROXY. */
  url: string;
  /** The CA's certificate file, for NODE_EXTRA_CA_CERTS. */
  caFile: string;
  /** "CONNECT <host:port>" of each tunnel asked for, and "<METHOD> <path>" inside. */
  requests: string[];
  stop(): Promise<void>;
}

/** Serves `hosts` (name -> handler) over TLS inside CONNECT tunnels; `dir` holds the certificates. */
export async function startGoogleApisProxy(
  dir: string,
  hosts: Record<string, Handler>,
): Promise<GoogleApisProxy> {
  const pki = await generatePki(dir, '10.0.0.1');
  const ca = { cert: pki.caCert, key: pki.caKey };
  const requests: string[] = [];
  const inner = new Map<string, ReturnType<typeof createServer>>();
  const contexts = new Map<string, ReturnType<typeof createSecureContext>>();
  for (const [host, handler] of Object.entries(hosts)) {
    const leaf = await signedByCa(dir, host, ca, {
      commonName: host,
      usage: 'server',
      dnsNames: [host],
    });
    contexts.set(
      host,
      createSecureContext({ cert: await readFile(leaf.cert), key: await readFile(leaf.key) }),
    );
    const server = createServer();
    handleWith(server, handler, requests);
    inner.set(host, server);
  }
  const proxy = createServer((_req, res) => res.writeHead(405).end('CONNECT only'));
  const tunnels = new Set<Socket>();
  proxy.on('connect', (req, socket: Socket) => {
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
    requests.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const server = inner.get(host ?? '');
    const context = contexts.get(host ?? '');
    if (server === undefined || context === undefined || port !== '443') {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    server.emit('connection', new TLSSocket(socket, { isServer: true, secureContext: context }));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    caFile: pki.caCert,
    requests,
    stop: () =>
      new Promise((resolve) => {
        for (const socket of tunnels) socket.destroy();
        proxy.close(() => resolve());
      }),
  };
}
