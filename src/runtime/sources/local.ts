// Model URIs that name something already on this machine: file://, plain
// paths, and pvc://<claim>/<path> (the claim is mounted by the operator under
// TENSORFLEET_PVC_ROOT, default /mnt/pvc, as <root>/<claim>).

import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeError } from '../errors.js';
import type { DirectoryEntries } from './source.js';

export const DEFAULT_PVC_ROOT = '/mnt/pvc';

/** Local directory for file://, pvc:// and bare paths; undefined for remote URIs. */
export function localPath(uri: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (uri.startsWith('file://')) return fileURLToPath(uri);
  if (uri.startsWith('pvc://')) {
    const rest = uri.slice('pvc://'.length);
    const slash = rest.indexOf('/');
    const claim = slash === -1 ? rest : rest.slice(0, slash);
    const path = slash === -1 ? '' : rest.slice(slash + 1);
    if (claim === '')
      throw new RuntimeError('CONFIG_INVALID', `"${uri}" has no claim name (pvc://<claim>/<path>)`);
    const cleaned = normalize(`/${path}`);
    const root = env['TENSORFLEET_PVC_ROOT'] || DEFAULT_PVC_ROOT;
    return join(root, claim, cleaned).replace(/\/+$/, '');
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) return undefined;
  return isAbsolute(uri) ? uri : resolve(uri);
}

/** Checks that a local model path exists; a model.json path is turned into its directory. */
export async function checkLocal(uri: string, path: string): Promise<string> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw new RuntimeError(
      'FETCH_NOT_FOUND',
      `model ${uri} not found: ${path} does not exist (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  if (st.isFile()) {
    if (path.endsWith('.json')) return resolve(path, '..');
    throw new RuntimeError(
      'FETCH_NOT_FOUND',
      `model ${uri}: ${path} is a file, not a model directory`,
    );
  }
  return path;
}

/**
 * The files and directories directly in `dir` (symbolic links followed, as a
 * mounted ConfigMap or a PVC populated with links lays them out; broken links
 * left out). `uri` names the base path in messages.
 */
export async function listLocalDirectory(uri: string, dir: string): Promise<DirectoryEntries> {
  let names;
  try {
    names = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOTDIR')
      throw new RuntimeError('FETCH_NOT_FOUND', `${uri}: ${dir} is a file, not a directory`);
    if (code === 'EACCES' || code === 'EPERM')
      throw new RuntimeError('FETCH_UNAUTHORIZED', `${uri}: ${dir} cannot be read (${code})`);
    throw new RuntimeError('FETCH_NOT_FOUND', `${uri} not found: ${dir} does not exist (${code})`);
  }
  const entries: DirectoryEntries = { files: [], directories: [] };
  for (const entry of names) {
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      try {
        const target = await stat(join(dir, entry.name));
        isDir = target.isDirectory();
        isFile = target.isFile();
      } catch {
        continue;
      }
    }
    if (isDir) entries.directories.push(entry.name);
    else if (isFile) entries.files.push(entry.name);
  }
  return entries;
}
