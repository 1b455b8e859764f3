// Keep-alive connections do not live forever: once older than
// --max-connection-age-seconds, the next answer tells the client to close, so
// a client behind a Service reaches pods that started after it connected (a
// canary, a scale-up). No request fails for it.
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Fixtures } from './helpers.js';
import { makeFixtures } from './helpers.js';
import { startHalfPlusTwo, waitReady } from './process.js';

let fx: Fixtures;
beforeAll(async () => {
  fx = await makeFixtures();
}, 60_000);
afterAll(async () => {
  await fx?.cleanup();
});

function predict(
  port: number,
  agent: Agent,
): Promise<{ status: number; close: boolean; socket: Socket }> {
  const body = JSON.stringify({ instances: [1] });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/models/hpt:predict',
        agent,
        headers: { 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            close: res.headers.connection === 'close',
            socket: req.socket as Socket,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('maximum connection age', () => {
  it('closes a keep-alive connection after its next answer once it is older than the limit', async () => {
    const rt = await startHalfPlusTwo(fx.halfPlusTwo, ['--max-connection-age-seconds', '0.5']);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await waitReady(rt.port);
      const sockets = new Set<Socket>();
      const answers: Array<{ status: number; close: boolean }> = [];
      const until = Date.now() + 1800;
      while (Date.now() < until) {
        const answer = await predict(rt.port, agent);
        sockets.add(answer.socket);
        answers.push(answer);
      }
      expect(answers.every((a) => a.status === 200)).toBe(true);
      // Each connection lived about half a second: three or four of them, each closed by an answer.
      expect(sockets.size).toBeGreaterThanOrEqual(3);
      expect(answers.filter((a) => a.close).length).toBe(sockets.size - 1);
      expect(answers.length).toBeGreaterThan(2 * sockets.size);
      // A clean start: no deprecation or other warning from Node or fastify (FSTDEP023 was one).
      expect(rt.stderr()).not.toMatch(/Warning|FSTDEP/);
    } finally {
      agent.destroy();
      rt.child.kill('SIGTERM');
      await rt.exited;
    }
  }, 60_000);
});
