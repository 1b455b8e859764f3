// Accept-Encoding: gzip on answers, as Triton honours it (tritonclient's
// response compression). Compressed request bodies are body-reader.ts's.

import { gzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';

/** Answers smaller than this go uncompressed whatever the client accepts: not worth the CPU. */
const GZIP_MIN_BYTES = 1024;

/** Whether an Accept-Encoding header admits gzip (a q of 0 refuses it). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** Gzips `app`'s answers for clients that accept it. A callback hook: no promise per request. */
export function gzipAnswers(app: FastifyInstance): void {
  app.addHook('onSend', (req, reply, payload, done) => {
    if (
      (typeof payload !== 'string' && !Buffer.isBuffer(payload)) ||
      Buffer.byteLength(payload) < GZIP_MIN_BYTES ||
      reply.hasHeader('content-encoding') ||
      !acceptsGzip(req.headers['accept-encoding'])
    ) {
      done(null, payload);
      return;
    }
    reply.header('content-encoding', 'gzip').header('vary', 'accept-encoding');
    gzip(payload, done);
  });
}
