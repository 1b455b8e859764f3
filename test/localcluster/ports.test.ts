import { createServer } from 'node:net';

import { describe, expect, it } from 'vitest';

import { freePort, freePorts } from '../../src/localcluster/ports.js';

describe('freePort', () => {
  it('returns a loopback port that can be bound right away', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(1023);
    expect(port).toBeLessThan(65536);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe('freePorts', () => {
  it('returns the requested number of distinct ports', async () => {
    const ports = await freePorts(6);
    expect(ports).toHaveLength(6);
    expect(new Set(ports).size).toBe(6);
  });

  it('returns nothing for zero and rejects nonsense counts', async () => {
    expect(await freePorts(0)).toEqual([]);
    await expect(freePorts(-1)).rejects.toThrow(RangeError);
    await expect(freePorts(1.5)).rejects.toThrow(RangeError);
  });
});
