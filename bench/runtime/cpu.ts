// CPU accounting for the served measurements: how much of the machine the
// server process (and its HTTP thread alone) used, against the load
// generator running in the bench's own process. On a 2-core machine these
// decide whether a figure is bound by the server or by the machine.

import { readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc reports CPU time in these ticks on every mainstream kernel. */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) of a process or of one of its threads; undefined off Linux. */
export function procCpuSeconds(pid: number, tid?: number): number | undefined {
  const path = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
  let stat: string;
  try {
    stat = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

export interface CpuSample {
  server: number | undefined;
  httpThread: number | undefined;
  loadgen: number;
  wall: number;
}

/** Reads every clock at once; take one before and one after a run. */
export function sampleCpu(serverPid: number | undefined): CpuSample {
  const own = process.cpuUsage();
  return {
    server: serverPid === undefined ? undefined : procCpuSeconds(serverPid),
    // The main thread's id is the process id.
    httpThread: serverPid === undefined ? undefined : procCpuSeconds(serverPid, serverPid),
    loadgen: (own.user + own.system) / 1e6,
    wall: performance.now() / 1000,
  };
}

export interface CpuUse {
  /** Cores the server process kept busy on average (1.0 = one core). */
  serverCores: number | undefined;
  /** Cores its main (HTTP) thread kept busy. */
  httpThreadCores: number | undefined;
  /** Cores the load generator (this process) kept busy. */
  loadgenCores: number;
}

export function cpuBetween(a: CpuSample, b: CpuSample): CpuUse {
  const wall = b.wall - a.wall;
  const per = (x: number | undefined, y: number | undefined): number | undefined =>
    x === undefined || y === undefined ? undefined : (y - x) / wall;
  return {
    serverCores: per(a.server, b.server),
    httpThreadCores: per(a.httpThread, b.httpThread),
    loadgenCores: (b.loadgen - a.loadgen) / wall,
  };
}
