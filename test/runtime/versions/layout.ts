// Versioned base paths on disk for the listing tests: each entry a TF.js graph
// model (model.json and one weight shard), a SavedModel (saved_model.pb and
// variables/), a directory without a model, or a plain file. The models only
// need to be recognized and copied, not loaded.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type Entry = 'graph' | 'saved-model' | 'no-model' | 'file';

export const GRAPH_MODEL_JSON = JSON.stringify({
  format: 'graph-model',
  modelTopology: { node: [] },
  weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [] }],
});

async function writeEntry(path: string, entry: Entry): Promise<void> {
  if (entry === 'file') {
    await writeFile(path, 'not a directory\n');
    return;
  }
  await mkdir(path, { recursive: true });
  if (entry === 'graph') {
    await writeFile(join(path, 'model.json'), GRAPH_MODEL_JSON);
    await writeFile(join(path, 'group1-shard1of1.bin'), Buffer.alloc(64, 7));
  } else if (entry === 'saved-model') {
    await writeFile(join(path, 'saved_model.pb'), Buffer.alloc(32, 1));
    await mkdir(join(path, 'variables'));
    await writeFile(join(path, 'variables', 'variables.index'), Buffer.alloc(16, 2));
  } else {
    await writeFile(join(path, 'notes.txt'), 'uploading\n');
  }
}

/** Writes `entries` (name -> what) under `base`, creating it. */
export async function writeBasePath(
  base: string,
  entries: Readonly<Record<string, Entry>>,
): Promise<void> {
  await mkdir(base, { recursive: true });
  for (const [name, entry] of Object.entries(entries)) await writeEntry(join(base, name), entry);
}
