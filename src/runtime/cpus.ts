// How many CPUs this runtime may use. In a container with a CPU limit the
// machine's count (os.availableParallelism) is the node's, not the pod's: a
// runtime sized by it on a 64-core node would start 63 workers, each with
// its own copy of the model, and TensorFlow would start a thread per core,
// all throttled to the pod's quota. The limit is in the cgroup's CFS quota.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** CPUs allowed by cgroup v2's `cpu.max` ("<quota> <period>" or "max <period>"); undefined when unlimited. */
export function cpusFromCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return undefined;
  return cpusFromQuota(Number(quota), Number(period ?? 100_000));
}

/** CPUs allowed by a CFS quota and period in microseconds (cgroup v1 gives -1 for none). */
export function cpusFromQuota(quota: number, period: number): number | undefined {
  if (!(quota > 0) || !(period > 0)) return undefined;
  return quota / period;
}

type Read = (path: string) => string;

const readText: Read = (path) => readFileSync(path, 'utf8');

/** The cgroup CPU limit of this process (v2, then v1), or undefined when there is none or none is readable. */
export function cgroupCpuLimit(read: Read = readText): number | undefined {
  try {
    return cpusFromCpuMax(read('/sys/fs/cgroup/cpu.max'));
  } catch {
    // not cgroup v2 (or not Linux): try v1
  }
  try {
    return cpusFromQuota(
      Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')),
      Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')),
    );
  } catch {
    return undefined;
  }
}

/** Whole CPUs to size threads by: the cgroup limit rounded up, at most the machine's, at least 1. */
export function detectCpus(
  read: Read = readText,
  machine: number = availableParallelism(),
): number {
  const limit = cgroupCpuLimit(read);
  return Math.max(1, limit === undefined ? machine : Math.min(machine, Math.ceil(limit)));
}

/**
 * TensorFlow (the native backends) sizes its thread pools by the machine's
 * cores unless told otherwise; tells it `cpus` through the variables it reads
 * when the addon loads, unless they are set already. Returns what it set.
 */
export function sizeTensorFlowThreads(cpus: number, env: NodeJS.ProcessEnv): string[] {
  const set: string[] = [];
  for (const name of ['TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS']) {
    if (env[name] !== undefined && env[name] !== '') continue;
    env[name] = String(cpus);
    set.push(name);
  }
  return set;
}
