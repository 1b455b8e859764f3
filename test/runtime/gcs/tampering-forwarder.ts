// A loopback forwarder in front of the emulator that damages object downloads
// (alt=media) of weight shards: "corrupt" flips one byte and keeps the length,
// "truncate" sends half the body and closes the connection, as a network
// failure would. Everything else passes through unchanged.

import { createServer } from 'node:http';
import type { TokenServer } from './token-servers.js';

export async function startTamperingForwarder(
  target: string,
  mode: 'corrupt' | 'truncate',
): Promise<TokenServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    void (async () => {
      const upstream = await fetch(`${target}${req.url}`, {
        headers: { authorization: req.headers.authorization ?? '' },
      });
      const body = Buffer.from(await upstream.arrayBuffer());
      const headers = Object.fromEntries(
        [...upstream.headers].filter(
          ([k]) => k !== 'content-encoding' && k !== 'transfer-encoding',
        ),
      );
      const damaged = (req.url ?? '').includes('.bin?alt=media');
      if (!damaged) {
        res.writeHead(upstream.status, headers).end(body);
      } else if (mode === 'corrupt') {
        body[0] = (body[0] ?? 0) ^ 0xff;
        res.writeHead(upstream.status, headers).end(body);
      } else {
        res.writeHead(upstream.status, { ...headers, 'content-length': String(body.length) });
        res.write(body.subarray(0, body.length >> 1), () => res.destroy());
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
