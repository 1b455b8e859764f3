// What the cloud SDKs behind the model sources cost (issue #24): the bytes
// each adds to the runtime image (its production dependency closure, as
// `npm ci --omit=dev` lays it out in docker/runtime-*.Dockerfile) and the
// time its import takes in a fresh process, paid on the first use of its
// scheme only (the sources import their SDK lazily; tests in
// test/runtime/sources check that other schemes never load it).
//
//   npm run bench -- --only sources

import { execFile } from 'node:child_process';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

/** The packages each scheme's source imports. */
export const SDKS: Record<string, string[]> = {
  's3://': ['@aws-sdk/client-s3'],
  'gs://': ['@google-cloud/storage', 'google-auth-library'],
  'az://': ['@azure/storage-blob', '@azure/identity'],
};

interface LockEntry {
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

interface Lock {
  packages: Record<string, LockEntry>;
}

/** Where node finds `name` from the package at `from` (a lock path): nested first, then up. */
function resolve(lock: Lock, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
    if (lock.packages[candidate] !== undefined) return candidate;
    if (dir === '') return undefined;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up < 0 ? '' : dir.slice(0, up);
  }
}

/** The lock paths of `roots` and everything they depend on, in production. */
export function closure(lock: Lock, roots: string[]): Set<string> {
  const seen = new Set<string>();
  const queue = roots.map((r) => resolve(lock, '', r)).filter((p) => p !== undefined);
  while (queue.length > 0) {
    const path = queue.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const entry = lock.packages[path]!;
    for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      const found = resolve(lock, path, dep);
      if (found !== undefined && !seen.has(found)) queue.push(found);
    }
  }
  return seen;
}

/** Bytes on disk under `dir`, not counting its own nested node_modules (packages of their own). */
async function packageBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') total += await packageBytes(path);
    } else if (entry.isFile()) {
      total += (await stat(path)).size;
    }
  }
  return total;
}

async function importMs(pkg: string): Promise<number> {
  const code = `const t = performance.now(); await import(${JSON.stringify(pkg)}); process.stdout.write(String(performance.now() - t));`;
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], {
      cwd: ROOT,
    });
    times.push(Number(stdout));
  }
  return times.sort((a, b) => a - b)[1]!;
}

export interface SdkCost {
  scheme: string;
  packages: string[];
  installed: boolean;
  closurePackages: number;
  bytes: number;
  importMs: number[];
}

export interface SourcesReport {
  sdks: SdkCost[];
  /** All SDKs together (shared dependencies once). */
  allBytes: number;
  allPackages: number;
  /** The whole production node_modules, for scale. */
  productionBytes: number;
}

export async function runSourcesBench(log: (line: string) => void): Promise<SourcesReport> {
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;
  const sizes = new Map<string, number>();
  const bytesOf = async (paths: Iterable<string>): Promise<number> => {
    let total = 0;
    for (const path of paths) {
      if (!sizes.has(path)) sizes.set(path, await packageBytes(join(ROOT, path)));
      total += sizes.get(path)!;
    }
    return total;
  };
  const sdks: SdkCost[] = [];
  const all = new Set<string>();
  for (const [scheme, packages] of Object.entries(SDKS)) {
    const installed = packages.every((p) => resolve(lock, '', p) !== undefined);
    const paths = closure(lock, packages);
    for (const p of paths) all.add(p);
    const cost: SdkCost = {
      scheme,
      packages,
      installed,
      closurePackages: paths.size,
      bytes: await bytesOf(paths),
      importMs: installed ? await Promise.all(packages.map(importMs)) : [],
    };
    log(
      `${scheme}: ${cost.closurePackages} packages, ${(cost.bytes / 2 ** 20).toFixed(1)} MiB, import ${cost.importMs.map((t) => `${t.toFixed(0)} ms`).join(' + ')}`,
    );
    sdks.push(cost);
  }
  const production = Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith('node_modules/') && entry.dev !== true)
    .map(([path]) => path);
  return {
    sdks,
    allBytes: await bytesOf(all),
    allPackages: all.size,
    productionBytes: await bytesOf(production),
  };
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export function summarize(report: SourcesReport): string {
  const rows = report.sdks.map(
    (s) =>
      `| \`${s.scheme}\` | ${s.packages.map((p) => `\`${p}\``).join(', ')} | ${s.installed ? s.closurePackages : 'not installed'} | ${mib(s.bytes)} | ${s.importMs.map((t) => `${t.toFixed(0)} ms`).join(' + ')} |`,
  );
  return [
    '| scheme | SDK packages | packages in closure | image bytes (production closure) | import, fresh process (median of 3) |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    `All SDKs together: ${report.allPackages} packages, ${mib(report.allBytes)} of the production node_modules' ${mib(report.productionBytes)} (${((100 * report.allBytes) / report.productionBytes).toFixed(0)}%). Each import is paid by the first model fetch of its scheme only; the runtime's start and other schemes load none of them.`,
  ].join('\n');
}
