// What real clients check at the HTTP level: KServe's SDK compares
// Content-Type with exactly "application/json" and reads the health bodies
// and v1 model status; every client expects 405 with Allow for a wrong method
// on a known path; and errors the HTTP layer raises before any route (a
// malformed request, oversized headers) come in the runtime's own format.

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Fixtures, TestRuntime } from './helpers.js';
import { makeFixtures, startRuntime } from './helpers.js';

let fx: Fixtures;
let rt: TestRuntime;
let port = 0;

beforeAll(async () => {
  fx = await makeFixtures();
  rt = await startRuntime(fx.halfPlusTwo, { modelName: 'hpt' });
  await rt.app.listen({ host: '127.0.0.1', port: 0 });
  const address = rt.app.server.address();
  port = typeof address === 'object' && address !== null ? address.port : 0;
}, 60_000);

afterAll(async () => {
  await rt?.close();
  await fx?.cleanup();
});

const inject = (method: string, url: string, payload?: string) =>
  rt.app.inject({
    method: method as 'GET',
    url,
    ...(payload === undefined ? {} : { payload, headers: { 'content-type': 'application/json' } }),
  });

describe('HTTP as clients expect it', () => {
  it('answers JSON with Content-Type exactly application/json, errors included', async () => {
    for (const [method, url, payload] of [
      ['GET', '/v1/models/hpt'],
      ['POST', '/v1/models/hpt:predict', '{"instances":[1]}'],
      ['POST', '/v1/models/hpt:predict', '{bad'],
      ['GET', '/v2/models/hpt'],
      ['POST', '/v2/models/other/infer', '{}'],
      ['GET', '/nowhere'],
      ['GET', '/v2/health/ready'],
    ] as const) {
      const res = await inject(method, url, payload);
      expect(res.headers['content-type'], `${method} ${url}`).toBe('application/json');
    }
  });

  it('health and readiness bodies as KServe writes them, v1 status with name and ready', async () => {
    expect((await inject('GET', '/v2/health/live')).json()).toEqual({ live: true });
    expect((await inject('GET', '/v2/health/ready')).json()).toEqual({ ready: true });
    expect((await inject('GET', '/v2/models/hpt/ready')).json()).toEqual({
      name: 'hpt',
      ready: true,
    });
    const status = (await inject('GET', '/v1/models/hpt')).json<Record<string, unknown>>();
    expect(status).toMatchObject({ name: 'hpt', ready: true });
    // TF Serving's own shape is still there, unchanged.
    expect(status['model_version_status']).toEqual([
      { version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
    ]);
  });

  it('a wrong method on a known path: 405 with Allow; OPTIONS: 204 with Allow', async () => {
    const known: Array<[string, string[]]> = [
      ['/v1/models/hpt', ['GET', 'HEAD']],
      ['/v1/models/hpt/metadata', ['GET', 'HEAD']],
      ['/v1/models/hpt/versions/1:predict', ['POST']],
      ['/v1/models/hpt:classify', ['POST']],
      ['/v2/models/hpt/infer', ['POST']],
      ['/v2/models/hpt/versions/1/infer', ['POST']],
      ['/v2/models/hpt/ready', ['GET', 'HEAD']],
      ['/v2/health/live', ['GET', 'HEAD']],
      ['/metrics', ['GET', 'HEAD']],
    ];
    for (const [url, allowed] of known) {
      for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']) {
        if (allowed.includes(method)) continue;
        const res = await inject(method, url, method === 'GET' ? undefined : '{}');
        expect(res.statusCode, `${method} ${url}`).toBe(405);
        expect(res.headers['allow'], `${method} ${url}`).toBe(allowed.join(', '));
        expect(res.headers['tensorfleet-error-code']).toBe('METHOD_NOT_ALLOWED');
      }
      const options = await inject('OPTIONS', url);
      expect(options.statusCode, `OPTIONS ${url}`).toBe(204);
      expect(options.headers['allow']).toBe([...allowed, 'OPTIONS'].join(', '));
    }
    // An unknown path stays 404.
    expect((await inject('PUT', '/v3/anything', '{}')).statusCode).toBe(404);
  });

  /** Raw bytes over a socket: what the server answers before any route. */
  const raw = (request: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
      socket.end(request);
    });

  it('HTTP-level errors in the runtime’s format: malformed request 400, oversized headers 431', async () => {
    const malformed = await raw('GARBAGE /\r\n\r\n');
    expect(malformed).toMatch(/^HTTP\/1\.1 400 /);
    expect(malformed).toContain('Tensorfleet-Error-Code: BAD_REQUEST');
    expect(malformed).toContain('Content-Type: application/json');
    expect(JSON.parse(malformed.split('\r\n\r\n')[1] ?? '')).toHaveProperty('error');

    const huge = await raw(
      `GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(huge.split('\r\n\r\n')[1] ?? '')).toEqual({
      error: 'the request headers are too large',
    });
  });
});
