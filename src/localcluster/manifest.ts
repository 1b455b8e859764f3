import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** tools/cluster/ of this package (same relative path from src/ and dist/). */
export const TOOLS_DIR = fileURLToPath(new URL('../../tools/cluster/', import.meta.url));
export const BUILD_SCRIPT = join(TOOLS_DIR, 'build.sh');

/** Wrapper modules whose go.mod/go.sum pin what build.sh builds, in hashing order. */
export const WRAPPER_MODULES = [
  'crds',
  'etcd',
  'helm',
  'kubernetes',
  'kwok',
  'registry',
  'monitoring',
  'prometheus',
] as const;

export const KWOK_STAGES = [
  'node-initialize',
  'node-heartbeat-with-lease',
  'pod-ready',
  'pod-complete',
  'pod-delete',
] as const;
export type KwokStage = (typeof KWOK_STAGES)[number];

export const BINARIES = [
  'etcd',
  'kubeApiserver',
  'kubeControllerManager',
  'kubeScheduler',
  'kubectl',
  'kwok',
  'helm',
  'kubelet',
  'kubeProxy',
  'registry',
  'prometheusOperator',
  'prometheusConfigReloader',
  'prometheus',
  'promtool',
] as const;
export type Binary = (typeof BINARIES)[number];

/** ${cache}/manifest.json, written by tools/cluster/build.sh. */
export interface ClusterManifest {
  readonly schema: 1;
  /** sha256 of build.sh, the wrapper go.mod/go.sum files and KUBEBUILDER_ASSETS. */
  readonly inputs: string;
  readonly versions: Readonly<Record<string, string>>;
  readonly binaries: Readonly<Record<Binary, string>>;
  /** CRD name -> YAML file in the Go module cache. */
  readonly crds: Readonly<Record<string, string>>;
  /** The Prometheus Operator's CRD YAML files (a directory in the Go module cache). */
  readonly prometheusOperatorCrds: string;
  readonly kwokStages: Readonly<Record<KwokStage, string>>;
}

/** `$TENSORFLEET_CACHE`, else `~/.cache/tensorfleet`. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.TENSORFLEET_CACHE;
  return fromEnv !== undefined && fromEnv !== ''
    ? fromEnv
    : join(homedir(), '.cache', 'tensorfleet');
}

export function manifestPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'manifest.json');
}

/** The hash build.sh records as `inputs`: it changes when any pin or the script changes. */
export async function buildInputsHash(
  env: NodeJS.ProcessEnv = process.env,
  toolsDir = TOOLS_DIR,
): Promise<string> {
  const files = [join(toolsDir, 'build.sh')];
  for (const module of WRAPPER_MODULES)
    files.push(join(toolsDir, module, 'go.mod'), join(toolsDir, module, 'go.sum'));
  const hash = createHash('sha256');
  for (const file of files) hash.update(await readFile(file));
  hash.update(`KUBEBUILDER_ASSETS=${env.KUBEBUILDER_ASSETS ?? ''}\n`);
  return hash.digest('hex');
}

function isRecordOfStrings(
  value: unknown,
  keys: readonly string[],
): value is Record<string, string> {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return keys.every((key) => typeof record[key] === 'string');
}

/** Checks the shape of a parsed manifest; throws with what is wrong. */
export function parseManifest(value: unknown): ClusterManifest {
  if (typeof value !== 'object' || value === null) throw new Error('manifest is not an object');
  const record = value as Record<string, unknown>;
  if (record.schema !== 1)
    throw new Error(`unsupported manifest schema ${JSON.stringify(record.schema)}`);
  if (typeof record.inputs !== 'string') throw new Error('manifest lacks inputs');
  if (!isRecordOfStrings(record.versions, []))
    throw new Error('manifest versions is not an object');
  if (!isRecordOfStrings(record.binaries, BINARIES))
    throw new Error(`manifest binaries must list ${BINARIES.join(', ')}`);
  if (!isRecordOfStrings(record.crds, [])) throw new Error('manifest crds is not an object');
  if (typeof record.prometheusOperatorCrds !== 'string') {
    throw new Error('manifest lacks prometheusOperatorCrds');
  }
  if (!isRecordOfStrings(record.kwokStages, KWOK_STAGES)) {
    throw new Error(`manifest kwokStages must list ${KWOK_STAGES.join(', ')}`);
  }
  return value as ClusterManifest;
}

async function missingFiles(manifest: ClusterManifest): Promise<string[]> {
  const checks: Array<[string, number]> = [
    ...Object.values(manifest.binaries).map((path): [string, number] => [path, constants.X_OK]),
    ...Object.values(manifest.crds).map((path): [string, number] => [path, constants.R_OK]),
    ...Object.values(manifest.kwokStages).map((path): [string, number] => [path, constants.R_OK]),
    [manifest.prometheusOperatorCrds, constants.R_OK],
  ];
  const missing: string[] = [];
  for (const [path, mode] of checks) {
    try {
      await access(path, mode);
    } catch {
      missing.push(path);
    }
  }
  return missing;
}

/**
 * The manifest, if one exists that matches the current pins and every file it
 * lists is present; otherwise undefined together with the reason.
 */
export async function currentManifest(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ manifest: ClusterManifest } | { manifest: undefined; reason: string }> {
  let manifest: ClusterManifest;
  try {
    manifest = parseManifest(JSON.parse(await readFile(manifestPath(env), 'utf8')));
  } catch (error) {
    return {
      manifest: undefined,
      reason: `no usable ${manifestPath(env)} (${(error as Error).message})`,
    };
  }
  if (manifest.inputs !== (await buildInputsHash(env))) {
    return { manifest: undefined, reason: 'tools/cluster pins changed since the last build' };
  }
  const missing = await missingFiles(manifest);
  if (missing.length > 0) return { manifest: undefined, reason: `missing ${missing.join(', ')}` };
  return { manifest };
}

export interface EnsureOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Receives progress lines; the build's own output goes to stderr. */
  readonly log?: (line: string) => void;
}

/**
 * Returns the manifest of built binaries, running tools/cluster/build.sh first
 * when they are missing or stale (minutes on a cold machine; see
 * docs/control-plane.md).
 */
export async function ensureBinaries(options: EnsureOptions = {}): Promise<ClusterManifest> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const current = await currentManifest(env);
  if (current.manifest !== undefined) return current.manifest;
  log(
    `[localcluster] building the control-plane binaries: ${current.reason}. Running ${BUILD_SCRIPT}`,
  );
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${BUILD_SCRIPT} failed (${signal ?? `exit code ${String(code)}`})`));
    });
  });
  const built = await currentManifest(env);
  if (built.manifest === undefined) throw new Error(`after building: ${built.reason}`);
  return built.manifest;
}
