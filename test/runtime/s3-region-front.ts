// A loopback server in front of moto that answers as S3 does for a bucket in
// another region (moto keeps every bucket in one place).

import type { IncomingMessage } from 'node:http';
import { createServer, request } from 'node:http';

/**
 * A loopback server in front of moto that answers as S3 does for a bucket in
 * `region`: 301 PermanentRedirect with x-amz-bucket-region to requests signed
 * for another region (all of them when `always`), the rest passed to moto.
 */
export async function regionalFront(
  target: string,
  region: string,
  always: boolean,
): Promise<{ endpoint: string; regions: string[]; close: () => Promise<void> }> {
  const regions: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const signed = /Credential=[^/]+\/\d+\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1];
    regions.push(signed ?? '');
    if (always || signed !== region) {
      res.writeHead(301, { 'content-type': 'application/xml', 'x-amz-bucket-region': region });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message><Endpoint>models.s3.${region}.amazonaws.com</Endpoint><Bucket>models</Bucket></Error>`,
      );
      return;
    }
    const url = new URL(req.url ?? '/', target);
    const upstream = request(url, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    regions,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
