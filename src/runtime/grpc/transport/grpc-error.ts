// gRPC status codes (grpc/doc/statuscodes.md) and the error a call ends with.
// Trailing metadata carries what REST carries in headers (the runtime's error
// code, Retry-After).

export const GRPC_CODES = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcStatusName = keyof typeof GRPC_CODES;

export class GrpcError extends Error {
  readonly status: GrpcStatusName;
  /** Trailing metadata (lower-case ASCII keys). */
  readonly metadata: Readonly<Record<string, string>>;

  constructor(status: GrpcStatusName, message: string, metadata: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.metadata = metadata;
  }
}

/**
 * grpc-message is percent-encoded: bytes outside printable ASCII, and '%'
 * itself (the spec's "Status-Message" rule), over the message's UTF-8.
 */
export function encodeGrpcMessage(message: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(message)) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
