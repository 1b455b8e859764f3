// Runs the Argo CD health check (deploy/argocd) with a real Lua interpreter and
// kstatus (tools/kstatus, sigs.k8s.io/cli-utils) on the same objects.
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const HEALTH_DIR = fileURLToPath(
  new URL(
    '../../deploy/argocd/resource_customizations/tensorfleet.dev/ModelDeployment/',
    import.meta.url,
  ),
);
export const HEALTH_LUA = `${HEALTH_DIR}health.lua`;
const KSTATUS_BUILD = fileURLToPath(new URL('../../tools/kstatus/build.sh', import.meta.url));

export interface Verdict {
  status: string;
  message: string;
}

/** The Lua interpreters the Debian packages install, newest first. */
const LUA_CANDIDATES = ['lua5.4', 'lua5.3', 'lua5.1', 'lua'];

function run(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`));
    });
    child.stdin?.end(input);
  });
}

export async function findLua(): Promise<string> {
  for (const candidate of LUA_CANDIDATES) {
    const found = await run(candidate, ['-v']).then(
      () => true,
      () => false,
    );
    if (found) return candidate;
  }
  throw new Error(
    `no Lua interpreter (${LUA_CANDIDATES.join(', ')}) on PATH: apt-get install lua5.4 (.ci/run does)`,
  );
}

/** A Lua literal for a JSON value (null becomes nil, as in Argo CD's conversion). */
export function luaLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') {
    let out = '"';
    for (const byte of Buffer.from(value, 'utf8')) {
      const ch = String.fromCharCode(byte);
      if (ch === '"' || ch === '\\') out += `\\${ch}`;
      else if (byte >= 0x20 && byte < 0x7f) out += ch;
      else out += `\\${byte.toString().padStart(3, '0')}`;
    }
    return `${out}"`;
  }
  if (Array.isArray(value)) return `{${value.map(luaLiteral).join(', ')}}`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `[${luaLiteral(k)}] = ${luaLiteral(v)}`);
  return `{${entries.join(', ')}}`;
}

/** Argo CD's contract: the script sees the object as the global `obj` and returns {status, message}. */
export async function argoHealth(lua: string, object: unknown): Promise<Verdict> {
  const driver = [
    `obj = ${luaLiteral(object)}`,
    `local hs = assert(loadfile(${luaLiteral(HEALTH_LUA)}))()`,
    'io.write(hs.status, "\\n", hs.message or "", "\\n")',
  ].join('\n');
  const out = await run(lua, ['-'], driver);
  const [status = '', message = ''] = out.split('\n');
  return { status, message };
}

let kstatusBinary: Promise<string> | undefined;

/** Builds tools/kstatus on first use (into the cache) and returns its path. */
export function kstatusPath(): Promise<string> {
  kstatusBinary ??= new Promise((resolve, reject) => {
    execFile('bash', [KSTATUS_BUILD], { maxBuffer: 2 ** 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`tools/kstatus/build.sh: ${stderr}`));
      else resolve(stdout.trim());
    });
  });
  return kstatusBinary;
}

export async function kstatus(objects: unknown[]): Promise<Verdict[]> {
  const out = await run(await kstatusPath(), [], JSON.stringify(objects));
  return JSON.parse(out) as Verdict[];
}

/** The kstatus status that means the same as each Argo CD health status. */
export const KSTATUS_FOR: Record<string, string> = {
  Healthy: 'Current',
  Progressing: 'InProgress',
  Degraded: 'Failed',
};
