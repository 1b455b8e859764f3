import { readFileSync } from 'node:fs';

export interface ProcessMemory {
  readonly name: string;
  readonly pid: number;
  /** Resident set size now, in bytes; 0 once the process is gone. */
  readonly rssBytes: number;
  /** Peak resident set size (VmHWM), in bytes; 0 once the process is gone. */
  readonly peakRssBytes: number;
}

/** Reads a `Vm*:   1234 kB` field of /proc/<pid>/status text, in bytes. */
export function statusField(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
  return match?.[1] === undefined ? 0 : Number(match[1]) * 1024;
}

/** Memory of one process from /proc (Linux); zeros where /proc is unavailable. */
export function processMemory(name: string, pid: number): ProcessMemory {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // Exited, or not Linux.
  }
  return {
    name,
    pid,
    rssBytes: statusField(status, 'VmRSS'),
    peakRssBytes: statusField(status, 'VmHWM'),
  };
}
