// The pure parts of the gs:// source: where requests go, and what any error the
// SDK or its auth library throws becomes. Neither may crash on odd input.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../src/runtime/errors.js';
import { FetchError } from '../../../src/runtime/sources/download.js';
import { gcsEndpoint } from '../../../src/runtime/sources/gcs-client.js';
import { gcsError } from '../../../src/runtime/sources/gcs-errors.js';
import { GcsSource } from '../../../src/runtime/sources/gs.js';

describe('gcsEndpoint', () => {
  it('is Cloud Storage, with credentials, unless the environment names another', () => {
    expect(gcsEndpoint({})).toEqual({
      url: 'https://storage.googleapis.com',
      authenticated: true,
    });
  });

  it('STORAGE_EMULATOR_HOST is an emulator (plain HTTP for host:port, no credentials)', () => {
    expect(gcsEndpoint({ STORAGE_EMULATOR_HOST: 'localhost:4443' })).toEqual({
      url: 'http://localhost:4443',
      authenticated: false,
    });
    expect(gcsEndpoint({ STORAGE_EMULATOR_HOST: 'https://gcs.emulator:4443/storage/v1/' })).toEqual(
      { url: 'https://gcs.emulator:4443', authenticated: false },
    );
  });

  it('TENSORFLEET_GCS_ENDPOINT wins and gets the credentials', () => {
    expect(
      gcsEndpoint({
        TENSORFLEET_GCS_ENDPOINT: 'https://storage.private.example',
        STORAGE_EMULATOR_HOST: 'localhost:4443',
      }),
    ).toEqual({ url: 'https://storage.private.example', authenticated: true });
  });

  it('any value is an origin or CONFIG_INVALID naming the variable', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('TENSORFLEET_GCS_ENDPOINT', 'STORAGE_EMULATOR_HOST'),
        fc.string(),
        (name, value) => {
          try {
            const { url } = gcsEndpoint({ [name]: value });
            expect(new URL(url).origin).toBe(url);
          } catch (err) {
            expect(err).toBeInstanceOf(RuntimeError);
            expect(err).toMatchObject({
              code: 'CONFIG_INVALID',
              message: `${name}="${value}" is not a URL or host[:port]`,
            });
          }
        },
      ),
    );
  });

  it('a bad endpoint fails when the source is made, not at the first listing', () => {
    expect(() => new GcsSource('gs://b/m', { STORAGE_EMULATOR_HOST: 'not a host' })).toThrow(
      'STORAGE_EMULATOR_HOST="not a host" is not a URL or host[:port]',
    );
    expect(() => new GcsSource('gs:///m', {})).toThrow(
      '"gs:///m" has no bucket (gs://<bucket>/<prefix>)',
    );
  });
});

describe('gcsError', () => {
  it('anything thrown becomes a FetchError that names what failed', () => {
    fc.assert(
      fc.property(fc.anything(), (thrown) => {
        const err = gcsError('listing gs://b/m', thrown, {});
        expect(err).toBeInstanceOf(FetchError);
        expect(err.message.startsWith('listing gs://b/m')).toBe(true);
      }),
    );
  });

  it('an HTTP status from Cloud Storage keeps its meaning', () => {
    const api = (code: number): object => ({ code, message: 'from the API' });
    expect(gcsError('w', api(404), {})).toMatchObject({
      code: 'FETCH_NOT_FOUND',
      transient: false,
    });
    expect(gcsError('w', api(403), {})).toMatchObject({ code: 'FETCH_UNAUTHORIZED' });
    expect(gcsError('w', api(503), {})).toMatchObject({ code: 'FETCH_FAILED', transient: true });
    expect(gcsError('w', api(429), {})).toMatchObject({ code: 'FETCH_FAILED', transient: true });
  });

  it('a token endpoint that fails with 5xx is worth retrying, one that refuses is not', () => {
    const token = (status: number): object => ({
      message: 'x',
      response: {
        status,
        data: { error: 'e', error_description: 'd' },
        config: { url: 'https://t/token' },
      },
    });
    expect(gcsError('w', token(503), {})).toMatchObject({
      code: 'FETCH_FAILED',
      transient: true,
      message:
        'w: getting an access token from https://t/token (Application Default Credentials) failed: HTTP 503: e: d',
    });
    expect(gcsError('w', token(400), {})).toMatchObject({
      code: 'FETCH_UNAUTHORIZED',
      transient: false,
    });
  });
});
