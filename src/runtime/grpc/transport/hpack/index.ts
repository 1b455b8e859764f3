// HPACK (RFC 7541): header compression for the HTTP/2 connection layer.

export { HpackDecoder, type HpackDecoderOptions } from './decoder.js';
export { HpackEncoder, type EncodeOptions, type HpackEncoderOptions } from './encoder.js';
export { HeaderListTooLarge, HpackError } from './errors.js';
