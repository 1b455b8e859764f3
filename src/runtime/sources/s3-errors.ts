// What an AWS SDK error means for a model download, as a FetchError with a
// precise message: the S3 error code and message, which credential source
// failed, or which region the bucket is really in.

import { FetchError, statusError } from './download.js';

/** A failure to get credentials from the SDK's chain (not an S3 answer). */
export class CredentialsError extends Error {
  constructor(
    readonly source: string,
    readonly reason: unknown,
  ) {
    super(`could not get AWS credentials from ${source}: ${detail(reason)}`);
  }
}

/** The fields of an SDK service exception (or any error) that a message needs. */
interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  Region?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
  cause?: { code?: string; message?: string };
}

/**
 * "<Code>: <message>" of an SDK error, or its message alone when it has no code;
 * on one line, as the operator reads the runtime's last log line.
 */
function detail(err: unknown): string {
  const e = (err ?? {}) as SdkErrorShape;
  const code = e.Code ?? e.name;
  const message = (e.message ?? String(err)).replace(/\s*\n\s*/g, ' ').trim();
  // What the SDK says of an error response without a body.
  if (message === 'UnknownError') return 'the response had no error details';
  return code === undefined || code === 'Error' || message.startsWith(code)
    ? message
    : `${code}: ${message}`;
}

const NO_CREDENTIALS = "the AWS SDK's default credential chain found no credentials";

// S3 answers a refused signature or an expired session with 400 as well as 403.
const CREDENTIAL_CODES = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'RequestTimeTooSkewed',
]);

export interface S3ErrorContext {
  /** What was being done, e.g. "listing s3://b/p/" (starts the message). */
  what: string;
  bucket: string;
  /** The region requests were signed for. */
  region: string;
  /** Where requests went, for network errors. */
  endpoint: string;
  /** Requests went unsigned: the chain found no credentials. */
  anonymous: boolean;
}

/** Maps anything the SDK throws for one request to a FetchError. */
export function s3Error(err: unknown, ctx: S3ErrorContext): FetchError {
  if (err instanceof FetchError) return err;
  const { what } = ctx;
  if (err instanceof CredentialsError) {
    return new FetchError('FETCH_UNAUTHORIZED', `${what}: ${err.message}`, false);
  }
  const e = (err ?? {}) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const code = e.Code ?? e.name ?? '';
  if (status === undefined) {
    // No HTTP answer: a network error or an abort (fetch.ts says which when it aborted).
    const cause = e.cause?.code ?? e.code ?? e.cause?.message ?? e.message ?? String(err);
    return new FetchError(
      'FETCH_FAILED',
      `${what}: request to ${ctx.endpoint} failed (${cause})`,
      true,
    );
  }
  if (status === 301 || code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed') {
    const actual = e.$response?.headers?.['x-amz-bucket-region'] ?? e.Region;
    if (status === 301 || actual !== undefined) {
      return new FetchError(
        'FETCH_FAILED',
        `${what}: wrong region: bucket "${ctx.bucket}" is ${actual === undefined ? 'not' : `in ${actual}, not`} in ${ctx.region} (set AWS_REGION${actual === undefined ? '' : `=${actual}`}): ${detail(err)}`,
        false,
      );
    }
  }
  if (code === 'NoSuchBucket') return statusError(`bucket "${ctx.bucket}"`, 404, 'NoSuchBucket');
  const denied = status === 401 || status === 403 || CREDENTIAL_CODES.has(code);
  // Denied to an unsigned request: the reason is more likely the missing credentials.
  const reason = `${detail(err)}${denied && ctx.anonymous ? ` (the request was anonymous: ${NO_CREDENTIALS})` : ''}`;
  if (denied && status !== 401 && status !== 403) {
    return new FetchError(
      'FETCH_UNAUTHORIZED',
      `${what}: access denied (HTTP ${status}); check the credentials: ${reason}`,
      false,
    );
  }
  return statusError(what, status, reason);
}
