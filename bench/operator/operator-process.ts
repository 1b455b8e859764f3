// The operator under test, as its own process: compiled with the project's
// build config (no TypeScript loader in the measured process), started like
// `tensorfleet-operator` with KUBECONFIG, observed through its /metrics and
// /proc.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Git-ignored and inside the repository, so that node_modules resolves. */
const OUT_DIR = join(ROOT, '.tensorfleet', 'bench', 'operator-dist');

/**
 * Compiles src/ with tsconfig.build.json into a private directory (not dist/,
 * which others use). With `ref` (a commit, e.g. HEAD) that revision's src/ is
 * compiled instead of the working tree's, for a stable subject while src/ is
 * being edited.
 */
export async function buildOperator(ref?: string): Promise<{ mainJs: string; source: string }> {
  await rm(OUT_DIR, { recursive: true, force: true });
  let project = ROOT;
  let source = 'working tree';
  if (ref !== undefined) {
    const commit = (await run('git', ['rev-parse', '--short', `${ref}^{commit}`])).trim();
    project = join(ROOT, '.tensorfleet', 'bench', 'operator-src');
    await rm(project, { recursive: true, force: true });
    await mkdir(project, { recursive: true });
    const archive = join(project, 'src.tar');
    await run('git', [
      'archive',
      `--output=${archive}`,
      commit,
      'src',
      'tsconfig.json',
      'tsconfig.build.json',
    ]);
    await run('tar', ['-xf', archive, '-C', project]);
    source = `commit ${commit}`;
  }
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await run(process.execPath, [
    tsc,
    '-p',
    join(project, 'tsconfig.build.json'),
    '--outDir',
    OUT_DIR,
    '--declaration',
    'false',
    '--sourceMap',
    'false',
  ]);
  return { mainJs: join(OUT_DIR, 'operator', 'main.js'), source };
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: ROOT, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed:\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/** One sample of a Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const raw of text.split('\n')) {
    if (raw.startsWith('#')) continue;
    const m = line.exec(raw);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(label)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Operator writes by `VERB resource`, e.g. `PATCH deployments`; Lease renewals left out. */
export type WriteCounts = Record<string, number>;

export function writeCounts(samples: Sample[]): WriteCounts {
  const counts: WriteCounts = {};
  for (const s of samples) {
    if (s.name !== 'tensorfleet_operator_api_writes_total' || s.value === 0) continue;
    // The Lease is renewed every retry period whatever there is to reconcile.
    if (s.labels.resource === 'leases') continue;
    counts[`${s.labels.verb ?? '?'} ${s.labels.resource ?? '?'}`] = s.value;
  }
  return counts;
}

export const totalOf = (counts: WriteCounts): number =>
  Object.values(counts).reduce((sum, n) => sum + n, 0);

export function diffCounts(after: WriteCounts, before: WriteCounts): WriteCounts {
  const out: WriteCounts = {};
  for (const [key, n] of Object.entries(after)) {
    const d = n - (before[key] ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

export function sumOf(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export interface OperatorProcess {
  readonly pid: number;
  readonly logPath: string;
  metrics(): Promise<Sample[]>;
  /** Peak and current resident set size from /proc/<pid>/status, in bytes. */
  memory(): Promise<{ peakRssBytes: number; rssBytes: number }>;
  /** Counts log lines at level warn or error so far. */
  readonly warnings: { count: number; first: string[] };
  stop(): Promise<void>;
}

/** Starts the compiled operator against `kubeconfigPath`; resolves when /readyz answers 200. */
export async function startOperator(options: {
  mainJs: string;
  kubeconfigPath: string;
  logDir: string;
  timeoutMs?: number;
}): Promise<OperatorProcess> {
  const logPath = join(options.logDir, 'operator.log');
  const log = createWriteStream(logPath);
  const child: ChildProcess = spawn(
    process.execPath,
    [options.mainJs, '--http-address=127.0.0.1:0'],
    {
      cwd: ROOT,
      env: { ...process.env, KUBECONFIG: options.kubeconfigPath },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('operator did not start');
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const warnings = { count: 0, first: [] as string[] };
  child.stdout?.pipe(log, { end: false });

  let port: number | undefined;
  const portKnown = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`operator did not report its port; log ${logPath}`)),
      options.timeoutMs ?? 60_000,
    );
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`operator exited (${String(code)}) during start; log ${logPath}`));
    });
    const lines = createInterface({ input: child.stderr!, crlfDelay: Infinity });
    lines.on('line', (line) => {
      log.write(`${line}\n`);
      let entry: { level?: string; msg?: string; http?: string };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      if (entry.level === 'warn' || entry.level === 'error') {
        warnings.count++;
        if (warnings.first.length < 5) warnings.first.push(line);
      }
      if (port === undefined && entry.msg === 'operator started' && entry.http) {
        port = Number(entry.http.slice(entry.http.lastIndexOf(':') + 1));
        clearTimeout(timer);
        resolve(port);
      }
    });
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    log.end();
  };

  try {
    const bound = await portKnown;
    const base = `http://127.0.0.1:${bound}`;
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const ok = await fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`operator not ready; log ${logPath}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return {
      pid,
      logPath,
      warnings,
      metrics: async () => parseMetrics(await (await fetch(`${base}/metrics`)).text()),
      memory: async () => {
        const status = await readFile(`/proc/${pid}/status`, 'utf8');
        const kib = (field: string): number =>
          Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
        return { peakRssBytes: kib('VmHWM'), rssBytes: kib('VmRSS') };
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
