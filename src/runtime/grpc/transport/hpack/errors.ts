// A malformed header block. HTTP/2 (RFC 9113 §4.3) treats any of these as a
// connection error of type COMPRESSION_ERROR: once one block fails, the two
// dynamic tables can no longer be trusted to agree.

export class HpackError extends Error {
  override readonly name: string = 'HpackError';
}

/**
 * The decoded header list is larger than the decoder's maxHeaderListSize
 * (counted as RFC 9113 §6.5.2 does: name + value + 32 octets per field). It is
 * thrown only after the whole block is decoded, so the dynamic table stays in
 * step with the peer's; a server may answer the stream (431) instead of
 * closing the connection.
 */
export class HeaderListTooLarge extends HpackError {
  override readonly name: string = 'HeaderListTooLarge';
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number) {
    super(`HPACK: the header list is ${size} bytes, over the limit of ${limit}`);
    this.size = size;
    this.limit = limit;
  }
}
