// The server's side of header compression, and the request's header list.
//
// Answers are encoded without HPACK's dynamic table: every field is a static
// table index or a literal that is never added to a table. A gRPC answer's
// headers are the same few fields, so their blocks are computed once; the
// decoder's table (ours and the client's) stays in step without any state on
// this side. The client is told so with a dynamic table size update to 0 at
// the start of the first block, and again after it changes
// SETTINGS_HEADER_TABLE_SIZE (RFC 7541 §4.2).

export type HeaderFields = ReadonlyArray<readonly [name: string, value: string]>;

/** A request's header fields by name; repeated names are joined with ", ". */
export type RequestHeaders = Record<string, string>;

/** HPACK's "dynamic table size update" to 0: 001 then a 5-bit integer. */
export const TABLE_SIZE_UPDATE_TO_ZERO = Buffer.from([0x20]);

/** Static table entries the answers use (RFC 7541 Appendix A). */
const STATUS_200 = 0x88; // indexed field 8, ":status: 200"
const STATUS_NAME = 8;
const CONTENT_TYPE_NAME = 31;

function integer(out: number[], value: number, prefixBits: number, first: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(first | value);
    return;
  }
  out.push(first | max);
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

function literal(out: number[], text: string): void {
  const bytes = Buffer.from(text, 'latin1');
  integer(out, bytes.length, 7, 0);
  for (const b of bytes) out.push(b);
}

/** Fields as literals without indexing (names lowercase, values latin1). */
export function encodeHeaderBlock(fields: HeaderFields): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    if (name === ':status' && value === '200') {
      out.push(STATUS_200);
    } else if (name === ':status' || name === 'content-type') {
      integer(out, name === ':status' ? STATUS_NAME : CONTENT_TYPE_NAME, 4, 0x00);
      literal(out, value);
    } else {
      out.push(0x00);
      literal(out, name);
      literal(out, value);
    }
  }
  return Buffer.from(out);
}

/** Header names a request must not carry in HTTP/2 (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);
const REQUEST_PSEUDO = new Set([':method', ':scheme', ':path', ':authority']);

function hasUppercase(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

/**
 * A request's (or its trailers') field list as an object, or the reason it is
 * malformed (RFC 9113 §8.2-8.3), which the stream is reset for.
 */
export function requestHeaders(fields: HeaderFields, trailers: boolean): RequestHeaders | string {
  const headers: RequestHeaders = {};
  let regular = false;
  for (const [name, value] of fields) {
    if (hasUppercase(name)) return `header name "${name}" has uppercase letters`;
    if (name.startsWith(':')) {
      if (trailers) return `trailers carry the pseudo-header ${name}`;
      if (regular) return `pseudo-header ${name} after a regular header`;
      if (!REQUEST_PSEUDO.has(name)) return `pseudo-header ${name} is not a request's`;
      if (headers[name] !== undefined) return `pseudo-header ${name} appears twice`;
      headers[name] = value;
      continue;
    }
    regular = true;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific header "${name}"`;
    if (name === 'te' && value !== 'trailers') return `te: "${value}" (only "trailers" is allowed)`;
    const seen = headers[name];
    headers[name] = seen === undefined ? value : `${seen}, ${value}`;
  }
  if (trailers) return headers;
  for (const required of [':method', ':scheme', ':path']) {
    if (headers[required] === undefined) return `the request has no ${required}`;
  }
  if (headers[':path'] === '') return 'the request has an empty :path';
  return headers;
}
