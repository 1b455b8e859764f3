// One directory level of an object store (S3, Cloud Storage, Azure Blob Storage), where directories
// are only key prefixes: a listing with delimiter "/" returns the objects
// directly under a prefix and the next-level prefixes. An empty answer means
// the directory does not exist; when the prefix without its "/" is an object,
// the error says that instead.

import { FetchError, statusError } from './download.js';
import type { DirectoryEntries } from './source.js';

/** Object names and common prefixes (ending in "/") directly under a prefix. */
export interface ObjectLevel {
  names: string[];
  prefixes: string[];
}

/**
 * The entries under `prefix` ("" or ending in "/") of `scheme`://`bucket`;
 * `listLevel` runs the store's delimited listing for a prefix.
 */
export async function objectStoreDirectory(
  scheme: 's3' | 'gs' | 'az',
  bucket: string,
  prefix: string,
  listLevel: (prefix: string) => Promise<ObjectLevel>,
): Promise<DirectoryEntries> {
  const { names, prefixes } = await listLevel(prefix);
  const entries: DirectoryEntries = {
    // A zero-byte "dir/" object is a folder placeholder some tools write, not a file.
    files: names.filter((n) => n !== prefix).map((n) => n.slice(prefix.length)),
    directories: prefixes.map((p) => p.slice(prefix.length, -1)),
  };
  if (entries.files.length > 0 || entries.directories.length > 0 || names.includes(prefix))
    return entries;
  if (prefix !== '') {
    const object = prefix.slice(0, -1);
    if ((await listLevel(object)).names.includes(object)) {
      throw new FetchError(
        'FETCH_NOT_FOUND',
        `${scheme}://${bucket}/${object} is an object, not a directory`,
        false,
      );
    }
  }
  throw statusError(
    `${scheme}://${bucket}/${prefix}`,
    404,
    `no objects under prefix "${prefix}" in ${scheme === 'az' ? 'container' : 'bucket'} "${bucket}"`,
  );
}
