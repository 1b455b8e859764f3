/**
 * What the real node changes on the host, and how each change is undone: the
 * bridge and its forwarding, the forward-guard chain and every KUBE-* chain
 * kube-proxy and the kubelet add, the kernel settings the kubelet changes,
 * the mounts under the node's directory, the processes in its cgroup and the
 * containerd shims. `cleanHost` undoes all of it whether the last run stopped
 * cleanly or crashed, so every start begins with it, and every stop ends with it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import {
  forwardGuardRules,
  KUBELET_SYSCTLS,
  NODE_BRIDGE,
  NODE_IP,
  NODE_PREFIX,
  ownedChainRemoval,
} from './network.js';

const run = promisify(execFile);

/** Runs a command, resolving with stdout; rejects with its stderr on failure. */
export async function sh(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, { maxBuffer: 64 << 20 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

const IPTABLES = ['iptables', 'ip6tables'] as const;
const TABLES = ['filter', 'nat', 'mangle', 'raw'] as const;

/** What is missing for a real node here, or an empty list. */
export async function missingPrerequisites(): Promise<string[]> {
  const missing: string[] = [];
  if (process.platform !== 'linux') return ['Linux'];
  if (process.getuid?.() !== 0) missing.push('root (the real node runs containerd and a kubelet)');
  for (const [command, pkg] of [
    ['containerd', 'containerd'],
    ['runc', 'runc'],
    ['iptables', 'iptables'],
    ['conntrack', 'conntrack'],
    ['ip', 'iproute2'],
    ['skopeo', 'skopeo'],
    ['flock', 'util-linux'],
  ] as const) {
    try {
      await run('sh', ['-c', `command -v ${command}`]);
    } catch {
      missing.push(`${command} (apt-get install ${pkg})`);
    }
  }
  if (!existsSync('/usr/lib/cni/bridge') && !existsSync('/opt/cni/bin/bridge')) {
    missing.push('CNI plugins (apt-get install containernetworking-plugins)');
  }
  return missing;
}

export function cniBinDir(): string {
  return existsSync('/usr/lib/cni/bridge') ? '/usr/lib/cni' : '/opt/cni/bin';
}

/**
 * Holds an exclusive lock on `path` for as long as this process lives (a
 * `flock` child whose stdin is a pipe from us: when we exit, however we exit,
 * the pipe closes and the lock goes with it). Throws at once if another
 * process holds it.
 */
export async function holdLock(path: string, what: string): Promise<() => void> {
  const child: ChildProcess = spawn(
    'flock',
    [
      '--nonblock',
      '--conflict-exit-code',
      '75',
      path,
      'sh',
      '-c',
      'echo locked; exec cat >/dev/null',
    ],
    { stdio: ['pipe', 'pipe', 'ignore'] },
  );
  const outcome = await new Promise<'locked' | number>((resolve) => {
    child.stdout?.once('data', () => resolve('locked'));
    child.once('exit', (code) => resolve(code ?? 1));
  });
  if (outcome !== 'locked') {
    throw new Error(
      outcome === 75
        ? `${what} is already running on this machine (lock ${path} is held); only one may run at a time`
        : `could not take the lock ${path} (flock exited ${outcome})`,
    );
  }
  child.unref();
  child.stdout?.destroy();
  return () => {
    child.stdin?.end();
  };
}

// --- network ----------------------------------------------------------------

export function bridgeExists(): boolean {
  return existsSync(`/sys/class/net/${NODE_BRIDGE}`);
}

export async function setUpNetwork(serviceCidr: string): Promise<void> {
  await sh('ip', ['link', 'add', NODE_BRIDGE, 'type', 'bridge']);
  await sh('ip', ['addr', 'add', `${NODE_IP}/${NODE_PREFIX}`, 'dev', NODE_BRIDGE]);
  await sh('ip', ['link', 'set', NODE_BRIDGE, 'up']);
  // ClusterIPs from the host go to the bridge, never to the default route.
  await sh('ip', ['route', 'add', serviceCidr, 'dev', NODE_BRIDGE, 'src', NODE_IP]);
  // Pod -> ClusterIP -> pod is routed through the node: forwarding, for
  // packets that come in on the bridge only; the guard keeps them on it.
  await writeFile(`/proc/sys/net/ipv4/conf/${NODE_BRIDGE}/forwarding`, '1');
  for (const args of forwardGuardRules()) await sh('iptables', args);
}

/** Removes the bridge (and with it its addresses and routes) and every owned chain. */
export async function tearDownNetwork(): Promise<void> {
  if (bridgeExists()) {
    // Host ends of pod veths whose namespaces are still held open.
    const ports = await sh('ip', ['-o', 'link', 'show', 'master', NODE_BRIDGE]).catch(() => '');
    for (const line of ports.split('\n')) {
      const name = /^\d+:\s+([^@:]+)/.exec(line)?.[1];
      if (name !== undefined) await sh('ip', ['link', 'delete', name]).catch(() => undefined);
    }
    await sh('ip', ['link', 'delete', NODE_BRIDGE]);
  }
  for (const iptables of IPTABLES) {
    for (const table of TABLES) {
      const listing = await sh(iptables, ['-t', table, '-S']).catch(() => undefined);
      if (listing === undefined) continue;
      for (const args of ownedChainRemoval(table, listing)) {
        await sh(iptables, args).catch(() => undefined);
      }
    }
  }
}

/** iptables and ip6tables rules, and routes, as text to compare before and after. */
export async function hostNetworkSnapshot(): Promise<string> {
  const parts: string[] = [];
  for (const iptables of IPTABLES) {
    for (const table of TABLES) {
      parts.push(
        `# ${iptables} -t ${table}`,
        await sh(iptables, ['-t', table, '-S']).catch(() => ''),
      );
    }
  }
  parts.push('# routes', await sh('ip', ['route', 'show', 'table', 'all']));
  parts.push('# links', (await sh('ip', ['-o', 'link', 'show'])).replace(/^\d+: /gm, ''));
  return parts.join('\n');
}

// --- kernel settings -------------------------------------------------------

export async function readSysctls(): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const key of KUBELET_SYSCTLS) {
    values[key] = (await readFile(`/proc/sys/${key}`, 'utf8')).trim();
  }
  return values;
}

export async function restoreSysctls(values: Readonly<Record<string, string>>): Promise<void> {
  for (const [key, value] of Object.entries(values)) {
    if ((KUBELET_SYSCTLS as readonly string[]).includes(key)) {
      await writeFile(`/proc/sys/${key}`, value).catch(() => undefined);
    }
  }
}

// --- processes, cgroups, mounts -----------------------------------------------

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Every directory of `cgroup` in every mounted hierarchy, deepest first. */
async function cgroupDirs(cgroup: string): Promise<string[]> {
  const dirs: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) await walk(join(dir, entry.name));
    dirs.push(dir);
  };
  for (const hierarchy of await readdir(CGROUP_ROOT).catch(() => [])) {
    const top = join(CGROUP_ROOT, hierarchy, cgroup);
    if (existsSync(top)) await walk(top);
  }
  return dirs;
}

/**
 * Creates `cgroup` in every mounted hierarchy (the kubelet requires its
 * cgroupRoot to exist in each); a new v1 cpuset gets its parent's CPUs and
 * memory nodes, without which nothing could run in it.
 */
export async function createCgroup(cgroup: string): Promise<void> {
  for (const hierarchy of await readdir(CGROUP_ROOT)) {
    const dir = join(CGROUP_ROOT, hierarchy, cgroup);
    await mkdir(dir, { recursive: true });
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const parent = join(CGROUP_ROOT, hierarchy, file);
      if (existsSync(parent)) await writeFile(join(dir, file), await readFile(parent, 'utf8'));
    }
  }
}

/** SIGKILLs every process in `cgroup` (any hierarchy), then removes its directories. */
export async function killCgroup(cgroup: string): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const pids = new Set<number>();
    for (const dir of await cgroupDirs(cgroup)) {
      const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const pid of text.split('\n').filter(Boolean)) pids.add(Number(pid));
    }
    if (pids.size === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (const dir of await cgroupDirs(cgroup)) await rmdir(dir).catch(() => undefined);
}

/** SIGKILLs every process whose command line contains `marker` (e.g. our containerd socket). */
export async function killProcessesMentioning(marker: string): Promise<void> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(marker)) {
      try {
        process.kill(Number(entry), 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }
}

/** Mount points at or below `dir` from /proc/self/mountinfo, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    // mountinfo escapes space, tab, newline and backslash as octal.
    .map((point) =>
      point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))),
    )
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const points = await mountsUnder(dir);
    if (points.length === 0) return;
    for (const point of points) await sh('umount', ['-l', point]).catch(() => undefined);
  }
  const left = await mountsUnder(dir);
  if (left.length > 0) throw new Error(`could not unmount ${left.join(', ')}`);
}

export async function removeTree(path: string): Promise<void> {
  await unmountUnder(path);
  await rm(path, { recursive: true, force: true });
}
