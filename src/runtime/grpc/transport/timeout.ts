// The grpc-timeout request header (the client's deadline, relative): at most
// 8 digits and a unit, H M S m u n (grpc's PROTOCOL-HTTP2.md).

import { GrpcError } from './grpc-error.js';

const UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};

/** Milliseconds the header allows, undefined without one. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null)
    throw new GrpcError(
      'INVALID_ARGUMENT',
      `grpc-timeout "${value}" is not 1 to 8 digits followed by one of H, M, S, m, u, n`,
    );
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}
