import { describe, expect, it } from 'vitest';

import { processMemory, statusField } from '../../src/localcluster/memory.js';

describe('statusField', () => {
  const status = 'Name:\tkube-apiserver\nVmHWM:\t  262144 kB\nVmRSS:\t  131072 kB\n';

  it('reads kB fields of /proc/<pid>/status in bytes', () => {
    expect(statusField(status, 'VmHWM')).toBe(262144 * 1024);
    expect(statusField(status, 'VmRSS')).toBe(131072 * 1024);
    expect(statusField(status, 'VmSwap')).toBe(0);
  });
});

describe('processMemory', () => {
  it('reports this process, and zeros for a pid that does not exist', () => {
    const self = processMemory('self', process.pid);
    expect(self.rssBytes).toBeGreaterThan(1024 * 1024);
    expect(self.peakRssBytes).toBeGreaterThanOrEqual(self.rssBytes);
    expect(processMemory('gone', 2 ** 22 + 1)).toMatchObject({ rssBytes: 0, peakRssBytes: 0 });
  });
});
