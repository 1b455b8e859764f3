// SIGTERM with gRPC calls in flight: a runtime process (inference slowed by
// --inject-latency-ms, so the calls are still running when the signal
// comes) answers every call tritonclient had sent, says NOT_SERVING to
// grpc-health-probe while it drains, and exits 0; afterwards nothing listens.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fixtures } from './helpers.js';
import { makeFixtures } from './helpers.js';
import { clientTools, probe, runClients } from './grpc/harness.js';
import { startProcess, waitReady } from './process.js';
import { testBackend } from './native.js';

interface DrainReport {
  sent: number;
  results: { code: string; message: unknown }[];
}

const CALLS = 24;

let fx: Fixtures;
beforeAll(async () => {
  fx = await makeFixtures();
  await clientTools();
}, 300_000);
afterAll(async () => {
  await fx?.cleanup();
});

describe('gRPC drain on SIGTERM', () => {
  it('answers every call sent before the signal, then stops', async () => {
    const rt = await startProcess([
      '--model-name',
      'dtypes',
      '--model-uri',
      fx.dtypes,
      '--backend',
      testBackend(),
      '--workers',
      '1',
      '--inject-latency-ms',
      '800',
      '--drain-timeout-seconds',
      '20',
    ]);
    try {
      await waitReady(rt.port);
      const line = rt.logs.find((l) => /^gRPC listening on port \d+$/.test(String(l['msg'])));
      const addr = `127.0.0.1:${String(line?.['port'])}`;
      let health: Promise<{ code: number; output: string }> | undefined;
      const report = await runClients<DrainReport>('drain', addr, [String(CALLS)], (msg) => {
        if (msg !== 'sent') return;
        // The calls are on the wire; each sleeps 800 ms in the runtime before it is batched.
        setTimeout(() => {
          rt.child.kill('SIGTERM');
          health = new Promise((resolve) => setTimeout(resolve, 100)).then(() => probe(addr));
        }, 200);
      });
      expect(report.sent).toBe(CALLS);
      expect(report.results).toHaveLength(CALLS);
      for (const r of report.results) {
        expect(r).toEqual({ code: 'OK', message: [2147483647, -2147483648, 0, 7] });
      }
      const during = await health;
      expect(during?.code).toBe(4);
      expect(during?.output).toContain('NOT_SERVING');
      expect(await rt.exited).toBe(0);
      // The signal came with calls in flight, and the drain finished in time.
      const draining = rt.logs.find((l) => String(l['msg']).startsWith('draining:'));
      expect(draining?.['inflight']).toBeGreaterThan(0);
      expect(rt.logs.map((l) => String(l['msg']))).toContain('drained');
      const after = await probe(addr);
      expect(after.code).toBe(2);
    } finally {
      rt.child.kill('SIGKILL');
    }
  }, 120_000);
});
