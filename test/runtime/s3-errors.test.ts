// What the s3:// source reports for the errors moto cannot produce: an expired
// session token (moto never expires one) and a multi-line message, built as
// the SDK builds them (its own exception class).

import { S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { CredentialsError, s3Error } from '../../src/runtime/sources/s3-errors.js';

const ctx = {
  what: 'listing s3://models/m/1',
  bucket: 'models',
  region: 'us-east-1',
  endpoint: 'AWS S3',
  anonymous: false,
};

function serviceError(name: string, status: number, message: string): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: status },
    message,
  });
}

describe('s3Error', () => {
  it('reports an expired session token (HTTP 400) as access denied, not retried', () => {
    expect(
      s3Error(serviceError('ExpiredToken', 400, 'The provided token has expired.'), ctx),
    ).toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      transient: false,
      message:
        'listing s3://models/m/1: access denied (HTTP 400); check the credentials: ExpiredToken: The provided token has expired.',
    });
  });

  it('reports a web identity token that STS rejects as the credential source that failed', () => {
    const sts = Object.assign(
      new Error(
        'Token expired: current date/time 1700000000\nmust be before the expiration date/time 1690000000',
      ),
      {
        name: 'ExpiredTokenException',
        $metadata: { httpStatusCode: 400 },
      },
    );
    const source =
      "the AWS SDK's default credential chain (configured: web identity (role arn:aws:iam::1:role/r, token file /var/run/secrets/eks.amazonaws.com/serviceaccount/token))";
    expect(s3Error(new CredentialsError(source, sts), ctx)).toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      transient: false,
      message: `listing s3://models/m/1: could not get AWS credentials from ${source}: ExpiredTokenException: Token expired: current date/time 1700000000 must be before the expiration date/time 1690000000`,
    });
  });

  it('keeps 5xx and throttling transient, and a missing bucket a 404', () => {
    expect(
      s3Error(serviceError('SlowDown', 503, 'Please reduce your request rate.'), ctx),
    ).toMatchObject({
      code: 'FETCH_FAILED',
      transient: true,
      message: 'listing s3://models/m/1: HTTP 503: SlowDown: Please reduce your request rate.',
    });
    expect(
      s3Error(serviceError('NoSuchBucket', 404, 'The specified bucket does not exist'), ctx),
    ).toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: 'bucket "models" not found (HTTP 404): NoSuchBucket',
    });
  });
});
