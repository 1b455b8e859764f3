// Reads a request body into one buffer of its own. With a Content-Length the
// buffer is allocated once up front and each socket chunk is copied into it
// (fastify's buffer parser collects the chunks and concatenates them at the
// end instead). For the binary tensor extension the buffer starts with a few
// bytes of padding so that the tensor data after the JSON header is 8-byte
// aligned: the decoder can then view it as a Float32Array without copying.
// The buffer comes from the runtime's RequestBodies (request-bodies.ts), which
// takes it back once the request's batch has been read.

import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { errorCodes } from 'fastify';
import { HEADER_LENGTH } from '../codec/binary-tensor.js';
import { RuntimeError } from '../errors.js';
import type { RequestBodies } from '../request-bodies.js';

/** Tensor data in a body starts at an offset that is a multiple of this. */
export const BODY_ALIGNMENT = 8;

type Done = (err: Error | null, body?: Buffer) => void;

type Headers = IncomingHttpHeaders;

export interface ReadOptions {
  /** Where each body's buffer comes from. */
  bodies: RequestBodies;
  /** The most bytes a body may have (inflated, when it comes compressed). */
  limit: number;
}

/** Bytes of padding before the body so that the bytes after the inference header are aligned. */
export function alignmentPad(headers: Headers): number {
  const raw = headers[HEADER_LENGTH];
  if (typeof raw !== 'string') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) return 0;
  return (BODY_ALIGNMENT - (n % BODY_ALIGNMENT)) % BODY_ALIGNMENT;
}

/**
 * Reads `payload` (the request stream) into a buffer of its own, answering
 * fastify's own errors (413 past the limit, 400 when the length read is not
 * the Content-Length) so the error handler maps them as before. A gzip or
 * deflate body (Content-Encoding, as tritonclient sends with request
 * compression) is inflated on the way, the limit applying to the inflated
 * size, so a compression bomb stops at the limit with 413; other encodings
 * get 415.
 */
export function readBody(headers: Headers, payload: Readable, opts: ReadOptions, done: Done): void {
  const encoding = headers['content-encoding']?.trim().toLowerCase();
  if (encoding === undefined || encoding === '' || encoding === 'identity') {
    readStream(headers, payload, opts, done);
    return;
  }
  const inflate =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? createGunzip()
      : encoding === 'deflate'
        ? createInflate()
        : undefined;
  if (inflate === undefined) {
    payload.resume();
    done(
      new RuntimeError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Content-Encoding ${JSON.stringify(encoding)} is not supported; send gzip, deflate or identity`,
      ),
    );
    return;
  }
  payload.on('error', (err) => inflate.destroy(err));
  payload.pipe(inflate);
  const inflated: Headers = { ...headers };
  delete inflated['content-length'];
  readStream(inflated, inflate, opts, (err, body) => {
    if (err === null) {
      done(null, body);
      return;
    }
    // Stop inflating; the rest of the request is read and dropped.
    payload.unpipe(inflate);
    inflate.destroy();
    payload.resume();
    const code = (err as { code?: string }).code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      done(
        new RuntimeError(
          'BODY_TOO_LARGE',
          `the ${encoding} request body inflates to more than the ${opts.limit}-byte limit (--max-body-bytes)`,
        ),
      );
    } else if (code?.startsWith('Z_') === true) {
      done(
        new RuntimeError('BAD_REQUEST', `the ${encoding} request body is corrupt: ${err.message}`),
      );
    } else done(err);
  });
}

function readStream(
  headers: Headers,
  payload: Readable,
  { bodies, limit }: ReadOptions,
  done: Done,
): void {
  const contentLength = Number(headers['content-length']);
  if (contentLength > limit) {
    done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    return;
  }
  const known =
    headers['content-length'] !== undefined &&
    Number.isInteger(contentLength) &&
    contentLength >= 0;
  const pad = alignmentPad(headers);
  const body = known ? bodies.allocate(pad, contentLength) : undefined;
  const chunks: Buffer[] = [];
  let received = 0;

  function cleanup(): void {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onEnd);
  }

  function onData(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (received + bytes.length > limit) {
      cleanup();
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    if (body === undefined) chunks.push(bytes);
    else if (received + bytes.length <= body.length) body.set(bytes, received);
    // More bytes than Content-Length: counted, reported at the end.
    received += bytes.length;
  }

  function onEnd(err?: Error & { statusCode?: number }): void {
    cleanup();
    if (err != null) {
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
      done(err);
      return;
    }
    if (body !== undefined) {
      if (received !== body.length) {
        done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
        return;
      }
      done(null, body);
      return;
    }
    const out = bodies.allocate(pad, received);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    done(null, out);
  }

  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onEnd);
  payload.resume();
}
