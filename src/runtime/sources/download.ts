// One HTTP download to a file, with a precise error for every way it can go
// wrong: status (404 / 401-403 / other), and a body shorter or longer than
// announced (truncated transfer).

import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { RuntimeError } from '../errors.js';

export class FetchError extends RuntimeError {
  /** Worth retrying (network error, 5xx, 429, truncated body). */
  readonly transient: boolean;
  constructor(
    code:
      | 'FETCH_FAILED'
      | 'FETCH_NOT_FOUND'
      | 'FETCH_UNAUTHORIZED'
      | 'FETCH_SIZE_MISMATCH'
      | 'FETCH_CHECKSUM_MISMATCH',
    message: string,
    transient: boolean,
    /** How long the server asked to wait before a retry (a 429's Retry-After). */
    retryAfterSeconds?: number,
  ) {
    super(code, message, retryAfterSeconds === undefined ? undefined : { retryAfterSeconds });
    this.transient = transient;
  }
}

export function statusError(what: string, status: number, detail: string): FetchError {
  const extra = detail === '' ? '' : `: ${detail.slice(0, 300)}`;
  if (status === 404)
    return new FetchError('FETCH_NOT_FOUND', `${what} not found (HTTP 404)${extra}`, false);
  if (status === 401 || status === 403) {
    return new FetchError(
      'FETCH_UNAUTHORIZED',
      `${what}: access denied (HTTP ${status}); check the credentials${extra}`,
      false,
    );
  }
  const transient = status >= 500 || status === 429 || status === 408;
  return new FetchError('FETCH_FAILED', `${what}: HTTP ${status}${extra}`, transient);
}

/**
 * One request. Without a signal of the caller's (fetch.ts's stall watchdog,
 * which aborts a download that stops moving, however long it runs), it gives
 * up after 10 minutes.
 */
export async function request(url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(600_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new FetchError(
      'FETCH_FAILED',
      `${what}: request to ${new URL(url).origin} failed (${detail})`,
      true,
    );
  }
}

export async function readText(res: Response): Promise<string> {
  try {
    return await res.text();
  } catch {
    return '';
  }
}

/**
 * Streams a response body to `file`; checks its size against Content-Length and
 * against `expectedSize` (from a listing) when given. Returns bytes written.
 * `onChunk` sees every chunk written (to hash the body on the way).
 */
export async function saveBody(
  res: Response,
  file: string,
  what: string,
  expectedSize?: number,
  onChunk?: (chunk: Buffer) => void,
): Promise<number> {
  const header = res.headers.get('content-length');
  const announced = header === null ? undefined : Number(header);
  if (res.body === null) throw new FetchError('FETCH_FAILED', `${what}: empty response`, true);
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      onChunk?.(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      counter,
      createWriteStream(file),
    );
  } catch (err) {
    const expected = announced ?? expectedSize;
    throw new FetchError(
      'FETCH_SIZE_MISMATCH',
      `${what}: the download broke off after ${bytes}${expected === undefined ? '' : ` of ${expected}`} bytes (truncated: ${(err as Error).message})`,
      true,
    );
  }
  if (announced !== undefined && bytes !== announced) {
    throw new FetchError(
      'FETCH_SIZE_MISMATCH',
      `${what}: received ${bytes} bytes but Content-Length said ${announced} (truncated download)`,
      true,
    );
  }
  if (expectedSize !== undefined && bytes !== expectedSize) {
    throw new FetchError(
      'FETCH_SIZE_MISMATCH',
      `${what}: received ${bytes} bytes but the listing said ${expectedSize}`,
      true,
    );
  }
  return bytes;
}
