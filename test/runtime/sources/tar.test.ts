// The tar reader and layer application, on archives made by the system `tar`
// (GNU tar: ustar, pax and gnu formats), and on broken ones.

import { execFileSync } from 'node:child_process';
import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RuntimeError } from '../../../src/runtime/errors.js';
import { applyLayer, layerTar } from '../../../src/runtime/sources/oci-layer.js';
import type { TarEntry } from '../../../src/runtime/sources/tar.js';
import { bufferSource, readTar } from '../../../src/runtime/sources/tar.js';

let work: string;
let n = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tensorfleet-tar-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A fresh directory; `build` fills it, then `tar` archives `members` of it. */
async function tarOf(
  build: (root: string) => Promise<void>,
  members: string[],
  args: string[] = [],
): Promise<Buffer> {
  const root = join(work, `src-${n++}`);
  await mkdir(root);
  await build(root);
  return execFileSync('tar', ['-cf', '-', ...args, '-C', root, ...members], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

async function put(root: string, path: string, content: string): Promise<void> {
  await mkdir(join(root, path, '..'), { recursive: true });
  await writeFile(join(root, path), content);
}

const whole = (p: string): string => p;

/** The entries of an archive in memory, each with its bytes. */
async function entriesOf(archive: Buffer, what = 'test'): Promise<(TarEntry & { data: Buffer })[]> {
  const entries = await readTar(bufferSource(archive), what);
  return entries.map((e) => ({ ...e, data: archive.subarray(e.offset, e.offset + e.size) }));
}

/** Gives the header at `at` a new name (of at most 100 bytes) and recomputes its checksum. */
function renameEntry(archive: Buffer, at: number, name: string): void {
  archive.fill(0, at, at + 100);
  archive.write(name, at, 'utf8');
  archive.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += archive[i] ?? 0;
  archive.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'ascii');
}

describe('readTar', () => {
  const long = `${'d'.repeat(120)}/${'e'.repeat(90)}/${'f'.repeat(150)}.bin`;
  for (const format of ['ustar', 'pax', 'gnu']) {
    it(`reads files, directories and links of a ${format} archive`, async () => {
      // ustar holds names up to 255 bytes (prefix + name); pax and gnu any length.
      const name = format === 'ustar' ? `${'p'.repeat(90)}/${'q'.repeat(90)}.bin` : long;
      const archive = await tarOf(
        async (root) => {
          await put(root, `m/${name}`, 'LONG');
          await put(root, 'm/a.txt', 'A');
          await symlink('a.txt', join(root, 'm/link'));
          execFileSync('ln', [join(root, 'm/a.txt'), join(root, 'm/hard')]);
        },
        ['m'],
        [`--format=${format}`],
      );
      const entries = await entriesOf(archive);
      const byName = new Map(entries.map((e) => [e.name.replace(/\/$/, ''), e]));
      expect(byName.get(`m/${name}`)?.data.toString()).toBe('LONG');
      expect(byName.get('m')?.type).toBe('directory');
      expect(byName.get('m/link')).toMatchObject({ type: 'symlink', linkname: 'a.txt' });
      // Whichever of the two names tar meets first is the file, the other a hard link to it.
      const pair = [byName.get('m/hard'), byName.get('m/a.txt')];
      expect(pair.map((e) => e?.type).sort()).toEqual(['file', 'hardlink']);
      expect(pair.find((e) => e?.type === 'file')?.data.toString()).toBe('A');
    });
  }

  it('refuses a truncated archive and a corrupted header', async () => {
    const archive = await tarOf((root) => put(root, 'a.bin', 'x'.repeat(2000)), ['a.bin']);
    await expect(entriesOf(archive.subarray(0, 1024), 'layer')).rejects.toThrow(
      'layer: not a valid tar archive: entry at byte 0 runs past the end (truncated)',
    );
    const corrupt = Buffer.from(archive);
    corrupt[10] = 0x41;
    await expect(entriesOf(corrupt, 'layer')).rejects.toThrow('bad header checksum at byte 0');
  });

  it('fails any mangled archive with a RuntimeError, never a crash', async () => {
    const archive = await tarOf(
      async (root) => {
        await put(root, `m/${long}`, 'L');
        await put(root, 'm/b', 'B');
      },
      ['m'],
      ['--format=pax'],
    );
    await fc.assert(
      fc.asyncProperty(
        fc.nat(archive.length - 1),
        fc.uint8Array({ minLength: 1, maxLength: 16 }),
        fc.nat(archive.length),
        async (at, bytes, cut) => {
          const mangled = Buffer.from(archive.subarray(0, Math.max(cut, at + bytes.length)));
          mangled.set(bytes.subarray(0, mangled.length - at), at);
          try {
            await readTar(bufferSource(mangled), 'fuzz');
          } catch (err) {
            expect(err).toBeInstanceOf(RuntimeError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('applyLayer', () => {
  /** Writes `archive` to a file beside the directory, as a downloaded layer is, and applies it. */
  async function apply(archive: Buffer, root?: string): Promise<string> {
    const dir = root ?? join(work, `root-${n++}`);
    await mkdir(dir, { recursive: true });
    const blob = join(work, `layer-${n++}`);
    await writeFile(blob, archive);
    const tar = await layerTar(blob, 'layer');
    await applyLayer(tar, dir, whole, 'layer');
    await rm(tar);
    return dir;
  }

  it('unpacks gzip and plain archives alike', async () => {
    const plain = await tarOf((root) => put(root, 'x/y.bin', 'Y'), ['x']);
    const dir = await apply(execFileSync('gzip', ['-c'], { input: plain }));
    expect(await readFile(join(dir, 'x/y.bin'), 'utf8')).toBe('Y');
  });

  it('refuses a layer that claims gzip but is not', async () => {
    await expect(apply(Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]))).rejects.toThrow(
      'layer: broken gzip data',
    );
  });

  it('refuses entries that climb out of the directory', async () => {
    const root = join(work, `src-${n++}`);
    await put(root, 'a', 'A');
    // GNU tar strips "../" unless told not to: -P keeps the name as given.
    const climbing = execFileSync('tar', [
      '-cf',
      '-',
      '-P',
      `${root}/../${root.split('/').pop()}/a`,
    ]);
    await expect(apply(climbing)).rejects.toThrow('escapes the model directory (path traversal)');
  });

  it('refuses a symbolic link that points out of the directory, or anywhere absolute', async () => {
    const up = await tarOf(async (root) => symlink('../../outside', join(root, 'link')), ['link']);
    await expect(apply(up)).rejects.toThrow(
      'link "link" -> "../../outside" escapes the model directory',
    );
    const abs = await tarOf(async (root) => symlink('/etc/passwd', join(root, 'link')), ['link']);
    await expect(apply(abs)).rejects.toThrow('escapes the model directory');
    // "a/b" leads back to the top, so "a/b/c -> .." would point above it (".." of the top).
    const chained = await tarOf(
      async (root) => {
        await mkdir(join(root, 'a'));
        await symlink('..', join(root, 'a/b'));
        await mkdir(join(root, 'x'));
        await symlink('..', join(root, 'x/c'));
      },
      ['a', 'x'],
    );
    const renamed = Buffer.from(chained);
    // Rename the entry "x/c" to "a/b/c" in place (same length), fixing its header checksum.
    for (const e of await entriesOf(renamed))
      if (e.name === 'x/c') renameEntry(renamed, e.offset - 512, 'a/b/c');
    await expect(apply(renamed)).rejects.toThrow(
      'link "a/b/c" -> ".." escapes the model directory',
    );
  });

  it('does not write through a link left by a lower layer', async () => {
    const dir = join(work, `root-${n++}`);
    await mkdir(dir);
    const outside = join(work, `outside-${n++}`);
    await writeFile(outside, 'SAFE');
    // A link a lower layer could not have made, planted to see it replaced, not followed.
    await symlink(outside, join(dir, 'model.json'));
    await apply(await tarOf((root) => put(root, 'model.json', 'NEW'), ['model.json']), dir);
    expect(await readFile(outside, 'utf8')).toBe('SAFE');
    expect((await lstat(join(dir, 'model.json'))).isFile()).toBe(true);
  });

  it('keeps links inside the directory and applies whiteouts and opaque directories', async () => {
    const dir = await apply(
      await tarOf(
        async (root) => {
          await put(root, 'a/one', '1');
          await put(root, 'a/two', '2');
          await put(root, 'b/three', '3');
          await symlink('../b/three', join(root, 'a/three'));
          execFileSync('ln', [join(root, 'a/two'), join(root, 'a/two-again')]);
        },
        ['a', 'b'],
      ),
    );
    expect(await readlink(join(dir, 'a/three'))).toBe('../b/three');
    expect(await readFile(join(dir, 'a/two-again'), 'utf8')).toBe('2');
    await apply(
      await tarOf(
        async (root) => {
          await put(root, 'a/.wh.one', '');
          await put(root, 'b/.wh..wh..opq', '');
          await put(root, 'b/four', '4');
        },
        ['a', 'b'],
      ),
      dir,
    );
    await expect(lstat(join(dir, 'a/one'))).rejects.toThrow('ENOENT');
    expect(await readFile(join(dir, 'a/two'), 'utf8')).toBe('2');
    await expect(lstat(join(dir, 'b/three'))).rejects.toThrow('ENOENT');
    expect(await readFile(join(dir, 'b/four'), 'utf8')).toBe('4');
  });
});
