// Reading pods' /metrics: real HTTP servers on loopback addresses standing for
// pod IPs (port 8501, as the runtime's): one answers, one never does, one
// refuses. The silent one costs the timeout and fails only itself.
import { createServer, type Server } from 'node:http';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME_PORT } from '../../../src/contract/runtime.js';
import { podMetricsUrl, scrapePods } from '../../../src/operator/metrics-source/pod-scrape.js';
import { httpFetcher } from '../../../src/operator/metrics-source/prometheus.js';

// A loopback /16 of its own, so that parallel test files do not meet on port 8501.
const subnet = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
const [ANSWERS, SILENT, CLOSED] = [`${subnet}.1`, `${subnet}.2`, `${subnet}.3`];
const servers: Server[] = [];

function listen(host: string, handler: Parameters<typeof createServer>[1]): Promise<void> {
  const server = createServer(handler);
  servers.push(server);
  return new Promise((resolve) => server.listen(RUNTIME_PORT, host, resolve));
}

beforeAll(async () => {
  await listen(ANSWERS, (_req, res) =>
    res.end('tensorfleet_runtime_ready{model="m",version="1"} 1\n'),
  );
  await listen(SILENT, () => {
    // never answers
  });
});

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const pod = (name: string, podIP?: string): V1Pod => ({
  metadata: { name },
  status: podIP ? { podIP } : {},
});

describe('scrapePods', () => {
  it('reads every pod at once, each bounded by the timeout, and never rejects', async () => {
    const started = performance.now();
    const out = await scrapePods(
      [pod('a', ANSWERS), pod('silent', SILENT), pod('closed', CLOSED), pod('new')],
      httpFetcher,
      300,
    );
    expect(performance.now() - started).toBeLessThan(2000);
    expect(out[0]).toMatchObject({
      samples: [
        { name: 'tensorfleet_runtime_ready', labels: { model: 'm', version: '1' }, value: 1 },
      ],
    });
    const error = (i: number): string => {
      const r = out[i]!;
      return 'error' in r ? r.error : 'read';
    };
    expect(error(1)).toMatch(/abort|timeout/i);
    expect(error(2)).not.toBe('read');
    expect(out[3]).toEqual({ pod: pod('new'), error: 'the pod has no IP yet' });
  });

  it('brackets an IPv6 pod IP in the URL', () => {
    expect(podMetricsUrl(pod('v6', 'fd00::5'))).toBe(`http://[fd00::5]:${RUNTIME_PORT}/metrics`);
  });
});
