// Model format detection from the files in a model directory.

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FormatChoice } from '../../contract/runtime.js';
import { RuntimeError } from '../errors.js';

export type ModelFormat = Exclude<FormatChoice, 'auto'>;

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads model.json's format (or infers it from its topology) or finds saved_model.pb. */
export async function detectFormat(dir: string): Promise<ModelFormat> {
  const modelJson = join(dir, 'model.json');
  if (await exists(modelJson)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(modelJson, 'utf8'));
    } catch (err) {
      throw new RuntimeError(
        'FORMAT_UNKNOWN',
        `${modelJson} is not valid JSON: ${(err as Error).message}`,
      );
    }
    if (typeof parsed !== 'object' || parsed === null) {
      throw new RuntimeError('FORMAT_UNKNOWN', `${modelJson} is not a JSON object`);
    }
    const json = parsed as { format?: unknown; modelTopology?: Record<string, unknown> };
    if (json.format === 'graph-model') return 'tfjs-graph';
    if (json.format === 'layers-model') return 'tfjs-layers';
    const topo = json.modelTopology;
    if (topo !== undefined && typeof topo === 'object') {
      if ('node' in topo) return 'tfjs-graph';
      if ('class_name' in topo || 'model_config' in topo) return 'tfjs-layers';
    }
    throw new RuntimeError(
      'FORMAT_UNKNOWN',
      `${modelJson} is neither a TF.js graph model nor a layers model (no "format" and an unrecognized modelTopology)`,
    );
  }
  if (
    (await exists(join(dir, 'saved_model.pb'))) ||
    (await exists(join(dir, 'saved_model.pbtxt')))
  ) {
    return 'tf-saved-model';
  }
  throw new RuntimeError(
    'FORMAT_UNKNOWN',
    `no model found in ${dir}: expected model.json (TF.js graph or layers model) or saved_model.pb (TF SavedModel)`,
  );
}
