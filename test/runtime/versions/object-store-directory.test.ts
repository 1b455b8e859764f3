// One directory level of an object store, from a delimited listing: folder
// placeholder objects, empty prefixes, and a prefix that names an object.

import { describe, expect, it } from 'vitest';
import type { ObjectLevel } from '../../../src/runtime/sources/object-store-directory.js';
import { objectStoreDirectory } from '../../../src/runtime/sources/object-store-directory.js';

/** A delimited listing over a fixed set of object names, as S3 and GCS answer it. */
function store(objects: string[]): (prefix: string) => Promise<ObjectLevel> {
  return (prefix) => {
    const names: string[] = [];
    const prefixes = new Set<string>();
    for (const name of objects) {
      if (!name.startsWith(prefix)) continue;
      const cut = name.indexOf('/', prefix.length);
      if (cut === -1) names.push(name);
      else prefixes.add(name.slice(0, cut + 1));
    }
    return Promise.resolve({ names, prefixes: [...prefixes] });
  };
}

describe('objectStoreDirectory', () => {
  it('splits files from directories; a "dir/" placeholder object is neither', async () => {
    const list = store(['m/', 'm/1/', 'm/1/model.json', 'm/2/saved_model.pb', 'm/notes.txt']);
    expect(await objectStoreDirectory('s3', 'b', 'm/', list)).toEqual({
      files: ['notes.txt'],
      directories: ['1', '2'],
    });
    // A directory holding only its placeholder exists, and is empty.
    expect(await objectStoreDirectory('gs', 'b', 'm/1/', store(['m/1/']))).toEqual({
      files: [],
      directories: [],
    });
  });

  it('an empty prefix is not found; a prefix naming an object says so', async () => {
    const list = store(['m/README.md', 'm/1/model.json']);
    await expect(objectStoreDirectory('gs', 'b', 'x/', list)).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: 'gs://b/x/ not found (HTTP 404): no objects under prefix "x/" in bucket "b"',
    });
    await expect(objectStoreDirectory('s3', 'b', 'm/README.md/', list)).rejects.toMatchObject({
      code: 'FETCH_NOT_FOUND',
      message: 's3://b/m/README.md is an object, not a directory',
    });
  });
});
