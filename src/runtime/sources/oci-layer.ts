// Applies one tar layer to a directory the way a container runtime applies an
// image layer: entries overwrite what lower layers wrote, a whiteout
// ".wh.<name>" removes <name>, ".wh..wh..opq" empties its directory. `place`
// maps an archive path to a path under the directory (undefined: not part of
// the model). No entry and no link may reach outside the directory.

import { createReadStream, createWriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { link, lstat, mkdir, open, readdir, realpath, rm, symlink } from 'node:fs/promises';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { RuntimeError } from '../errors.js';
import type { TarSource } from './tar.js';
import { readTar } from './tar.js';

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/**
 * The layer at `blob` as a tar file: `blob` itself, or when it is gzip (by its
 * magic bytes, not its media type) `<blob>.tar`, streamed out of it (and `blob`
 * removed).
 */
export async function layerTar(blob: string, what: string): Promise<string> {
  const fh = await open(blob);
  const magic = Buffer.alloc(2);
  try {
    await fh.read(magic, 0, 2, 0);
  } finally {
    await fh.close();
  }
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) return blob;
  const tar = `${blob}.tar`;
  try {
    await pipeline(createReadStream(blob), createGunzip(), createWriteStream(tar));
  } catch (err) {
    await rm(tar, { force: true });
    throw new RuntimeError('FETCH_FAILED', `${what}: broken gzip data (${(err as Error).message})`);
  }
  await rm(blob);
  return tar;
}

function fileSource(fh: FileHandle, size: number): TarSource {
  return {
    size,
    async read(offset, length) {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    },
  };
}

/** An archive path as a clean relative path; refuses one that climbs out. */
function clean(name: string, what: string): string {
  const normal = posix.normalize(`/${name}`).slice(1).replace(/\/$/, '');
  if (name.split('/').includes('..')) {
    throw new RuntimeError(
      'FETCH_FAILED',
      `${what}: entry ${JSON.stringify(name)} escapes the model directory (path traversal)`,
    );
  }
  return normal;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Makes `path`'s parent directory, checking no link on the way leads outside `root`. */
async function parentOf(root: string, path: string, what: string, name: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  if (!inside(await realpath(root), await realpath(dirname(path)))) {
    throw new RuntimeError(
      'FETCH_FAILED',
      `${what}: entry ${JSON.stringify(name)} goes through a link outside the model directory`,
    );
  }
}

/** Applies the tar file `archive` to `root`. */
export async function applyLayer(
  archive: string,
  root: string,
  place: (path: string) => string | undefined,
  what: string,
): Promise<void> {
  const fh = await open(archive);
  try {
    const source = fileSource(fh, (await fh.stat()).size);
    await applyEntries(source, archive, root, place, what);
  } finally {
    await fh.close();
  }
}

async function applyEntries(
  source: TarSource,
  archive: string,
  root: string,
  place: (path: string) => string | undefined,
  what: string,
): Promise<void> {
  const entries = (await readTar(source, what)).flatMap((entry) => {
    const mapped = place(clean(entry.name, what));
    return mapped === undefined ? [] : [{ entry, mapped, base: posix.basename(mapped) }];
  });
  // Whiteouts remove what lower layers wrote, never this layer's own entries: they go first.
  const whiteout = (e: { base: string }): boolean => e.base.startsWith(WHITEOUT);
  for (const { entry, mapped, base } of [
    ...entries.filter(whiteout),
    ...entries.filter((e) => !whiteout(e)),
  ]) {
    const target = join(root, ...mapped.split('/').filter((p) => p !== ''));
    if (base === OPAQUE) {
      const dir = dirname(target);
      if (await exists(dir)) {
        for (const child of await readdir(dir))
          await rm(join(dir, child), { recursive: true, force: true });
      }
      continue;
    }
    if (base.startsWith(WHITEOUT)) {
      await rm(join(dirname(target), base.slice(WHITEOUT.length)), {
        recursive: true,
        force: true,
      });
      continue;
    }
    if (mapped === '') continue; // The directory itself.
    if (entry.type === 'directory') {
      await parentOf(root, target, what, entry.name);
      const st = await lstat(target).catch(() => undefined);
      if (st !== undefined && !st.isDirectory()) await rm(target, { force: true });
      await mkdir(target, { recursive: true });
      continue;
    }
    if (entry.type === 'other') continue; // Devices, fifos: no part of a model.
    await parentOf(root, target, what, entry.name);
    // Replace whatever is there: writing through an old link would write elsewhere.
    await rm(target, { recursive: true, force: true });
    if (entry.type === 'file') {
      // Streamed from the archive: a file of any size passes through a small buffer.
      await pipeline(
        entry.size === 0
          ? Readable.from([])
          : createReadStream(archive, { start: entry.offset, end: entry.offset + entry.size - 1 }),
        createWriteStream(target),
      );
    } else if (entry.type === 'symlink') {
      // Resolved from where the link physically is: its directory may itself be reached through a link.
      const pointsAt = resolve(await realpath(dirname(target)), entry.linkname);
      if (posix.isAbsolute(entry.linkname) || !inside(await realpath(root), pointsAt)) {
        throw new RuntimeError(
          'FETCH_FAILED',
          `${what}: link ${JSON.stringify(entry.name)} -> ${JSON.stringify(entry.linkname)} escapes the model directory`,
        );
      }
      await symlink(entry.linkname, target);
    } else {
      const linked = place(clean(entry.linkname, what));
      if (linked === undefined) {
        throw new RuntimeError(
          'FETCH_FAILED',
          `${what}: hard link ${JSON.stringify(entry.name)} -> ${JSON.stringify(entry.linkname)} points outside the model`,
        );
      }
      await link(join(root, ...linked.split('/').filter((p) => p !== '')), target);
    }
  }
}
