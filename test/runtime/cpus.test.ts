// CPUs the runtime sizes itself by: the container's cgroup limit, not the node's cores.

import { describe, expect, it } from 'vitest';
import { parseServeConfig } from '../../src/runtime/config.js';
import {
  cgroupCpuLimit,
  cpusFromCpuMax,
  cpusFromQuota,
  detectCpus,
  sizeTensorFlowThreads,
} from '../../src/runtime/cpus.js';

/** A fake filesystem: the files given, every other path missing. */
const files =
  (entries: Record<string, string>) =>
  (path: string): string => {
    const text = entries[path];
    if (text === undefined) throw new Error(`ENOENT: ${path}`);
    return text;
  };

describe('CPU limit', () => {
  it('reads cgroup v2 cpu.max and v1 CFS quotas', () => {
    expect(cpusFromCpuMax('max 100000\n')).toBeUndefined();
    expect(cpusFromCpuMax('200000 100000\n')).toBe(2);
    expect(cpusFromCpuMax('150000 100000')).toBe(1.5);
    expect(cpusFromQuota(-1, 100_000)).toBeUndefined();
    expect(cpusFromQuota(50_000, 100_000)).toBe(0.5);
    expect(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': '400000 100000' }))).toBe(4);
    expect(
      cgroupCpuLimit(
        files({
          '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '300000\n',
          '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
        }),
      ),
    ).toBe(3);
    expect(cgroupCpuLimit(files({}))).toBeUndefined();
  });

  it('rounds the limit up, never past the machine and never below 1', () => {
    expect(detectCpus(files({ '/sys/fs/cgroup/cpu.max': '150000 100000' }), 64)).toBe(2);
    expect(detectCpus(files({ '/sys/fs/cgroup/cpu.max': '10000 100000' }), 64)).toBe(1);
    expect(detectCpus(files({ '/sys/fs/cgroup/cpu.max': '800000 100000' }), 4)).toBe(4);
    expect(detectCpus(files({ '/sys/fs/cgroup/cpu.max': 'max 100000' }), 64)).toBe(64);
    expect(detectCpus(files({}), 8)).toBe(8);
  });

  it('sizes the default worker count by --cpus (flag or environment)', () => {
    const base = ['--model-name', 'm', '--model-uri', 'file:///m'];
    expect(parseServeConfig([...base, '--cpus', '4'], {}).workers).toBe(3);
    expect(parseServeConfig(base, { TENSORFLEET_CPUS: '1' }).workers).toBe(1);
    expect(parseServeConfig([...base, '--cpus', '8', '--workers', '2'], {}).workers).toBe(2);
    expect(parseServeConfig([...base, '--cpus', '512'], {}).workers).toBe(64);
    expect(() => parseServeConfig([...base, '--cpus', '0'], {})).toThrow(/--cpus .* must be >= 1/);
  });

  it('tells TensorFlow the CPUs unless its thread counts are set already', () => {
    const env: NodeJS.ProcessEnv = { TF_NUM_INTEROP_THREADS: '1' };
    expect(sizeTensorFlowThreads(3, env)).toEqual(['TF_NUM_INTRAOP_THREADS']);
    expect(env).toEqual({ TF_NUM_INTRAOP_THREADS: '3', TF_NUM_INTEROP_THREADS: '1' });
  });
});
