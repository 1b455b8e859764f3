// Parallel ranged download of one large S3 object: the object is cut into
// byte ranges (planParts, pure), each fetched with its own ranged GetObject and
// written at its offset in the destination file, a few at a time. A part that
// fails stops the others and fails the file with that part's reason.

import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { FetchError } from './download.js';

/** One byte range of an object, both ends inclusive (as an HTTP Range header). */
export interface Part {
  index: number;
  start: number;
  end: number;
}

/**
 * The parts of an object of `size` bytes cut every `partSize` bytes: contiguous,
 * in order, none empty, covering exactly [0, size). No parts for an empty object.
 */
export function planParts(size: number, partSize: number): Part[] {
  if (!Number.isSafeInteger(size) || size < 0)
    throw new RangeError(`object size must be a whole number of bytes, got ${size}`);
  if (!Number.isSafeInteger(partSize) || partSize < 1)
    throw new RangeError(`part size must be a positive whole number of bytes, got ${partSize}`);
  const parts: Part[] = [];
  for (let start = 0, index = 0; start < size; start += partSize, index++)
    parts.push({ index, start, end: Math.min(size, start + partSize) - 1 });
  return parts;
}

/** Streams `body` into `handle` from `offset` on; returns the bytes written. */
async function writeAt(handle: FileHandle, body: Readable, offset: number): Promise<number> {
  let written = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await handle.write(
        chunk,
        done,
        chunk.length - done,
        offset + written + done,
      );
      done += bytesWritten;
    }
    written += chunk.length;
  }
  return written;
}

/**
 * Downloads `parts` of an object into `file`, `concurrency` at a time.
 * `fetchPart` starts one ranged GET and returns its body; `signal` (the
 * caller's stall watchdog) aborts every part. Returns the bytes written.
 */
export async function downloadParts(opts: {
  file: string;
  what: string;
  parts: Part[];
  concurrency: number;
  signal: AbortSignal | undefined;
  /** Starts one ranged GET; `label` names the part in its errors. */
  fetchPart: (part: Part, label: string, signal: AbortSignal) => Promise<Readable>;
}): Promise<number> {
  const { parts, what } = opts;
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const handle = await open(opts.file, 'w');
  let next = 0;
  let total = 0;
  let failure: FetchError | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < parts.length) {
      const part = parts[next++] as Part;
      const label = `${what} part ${part.index + 1} of ${parts.length} (bytes ${part.start}-${part.end})`;
      try {
        const body = await opts.fetchPart(part, label, stop.signal);
        const length = part.end - part.start + 1;
        const got = await writeAt(handle, body, part.start);
        if (got !== length) {
          throw new FetchError(
            'FETCH_SIZE_MISMATCH',
            `${label}: received ${got} of ${length} bytes (the object changed or the transfer broke off)`,
            true,
          );
        }
        total += got;
      } catch (err) {
        // The first failure is the reason; the others are the abort it causes.
        if (failure === undefined) {
          failure =
            err instanceof FetchError
              ? err
              : new FetchError('FETCH_FAILED', `${label}: ${(err as Error).message}`, true);
          stop.abort(failure);
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, parts.length) }, worker));
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await handle.close();
  }
  if (failure !== undefined) throw failure;
  return total;
}
