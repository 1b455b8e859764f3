// Model URIs that name something already on this machine: file://, plain
// paths, and pvc://<claim>/<path> (the claim is mounted by the operator under
// TENSORFLEET_PVC_ROOT, default /mnt/pvc, as <root>/<claim>).

import { stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeError } from '../errors.js';

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
