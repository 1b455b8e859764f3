// A reader for tar archives (POSIX ustar, with pax extended headers and GNU
// long names): the entries of an archive read through positioned reads (a
// file on disk, or a buffer), so a layer of any size is unpacked without being
// held in memory. Only what an image layer needs: files, directories, links;
// other types are reported as such.

import { RuntimeError } from '../errors.js';

export interface TarEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';
  /** Target of a link. */
  linkname: string;
  /** Where the file's bytes are in the archive, and how many. */
  offset: number;
  size: number;
}

/** An archive to read from: its size, and bytes at an offset. */
export interface TarSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Buffer>;
}

export function bufferSource(archive: Buffer): TarSource {
  return {
    size: archive.length,
    read: (offset, length) => Promise.resolve(archive.subarray(offset, offset + length)),
  };
}

/** Pax headers and GNU long names are read into memory: more than this is no real archive. */
const MAX_METADATA = 1 << 20;

const BLOCK = 512;

function bad(what: string, why: string): RuntimeError {
  return new RuntimeError('FETCH_FAILED', `${what}: not a valid tar archive: ${why}`);
}

function text(header: Buffer, start: number, length: number): string {
  const field = header.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? field.length : end).toString('utf8');
}

/** A numeric field: octal text, or base-256 when its first byte has the high bit set. */
function number(header: Buffer, start: number, length: number): number {
  if ((header[start] ?? 0) & 0x80) {
    let n = (header[start] ?? 0) & 0x7f;
    for (let i = 1; i < length; i++) n = n * 256 + (header[start + i] ?? 0);
    return n;
  }
  const s = text(header, start, length).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

/** The records of a pax extended header: "<length> <key>=<value>\n" each. */
function paxRecords(data: Buffer, what: string): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const length = space < 0 ? NaN : Number(data.subarray(at, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= 0 || at + length > data.length) {
      throw bad(what, 'malformed pax header');
    }
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return records;
}

export async function readTar(archive: TarSource, what: string): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  let pax = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let at = 0;
  while (at + BLOCK <= archive.size) {
    const header = await archive.read(at, BLOCK);
    if (header.every((b) => b === 0)) break; // End of archive (two zero blocks; one is enough).
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
    if (sum !== number(header, 148, 8)) throw bad(what, `bad header checksum at byte ${at}`);
    const flag = String.fromCharCode(header[156] ?? 0);
    const size = pax.has('size') ? Number(pax.get('size')) : number(header, 124, 12);
    const dataStart = at + BLOCK;
    if (!Number.isSafeInteger(size) || size < 0 || dataStart + size > archive.size) {
      throw bad(what, `entry at byte ${at} runs past the end (truncated)`);
    }
    at = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'g') continue; // Global pax defaults: none that matter here.
    if (flag === 'x' || flag === 'L' || flag === 'K') {
      if (size > MAX_METADATA)
        throw bad(what, `a ${size}-byte extended header at byte ${dataStart - BLOCK}`);
      const data = await archive.read(dataStart, size);
      if (flag === 'x') {
        pax = paxRecords(data, what);
        continue;
      }
      const value = data.toString('utf8').replace(/\0+$/, '');
      if (flag === 'L') longName = value;
      else longLink = value;
      continue;
    }
    const magic = text(header, 257, 6);
    const prefix = magic.startsWith('ustar') ? text(header, 345, 155) : '';
    const name =
      pax.get('path') ?? longName ?? (prefix === '' ? '' : `${prefix}/`) + text(header, 0, 100);
    const linkname = pax.get('linkpath') ?? longLink ?? text(header, 157, 100);
    const type =
      flag === '0' || flag === '\0' || flag === '7'
        ? 'file'
        : flag === '5'
          ? 'directory'
          : flag === '2'
            ? 'symlink'
            : flag === '1'
              ? 'hardlink'
              : 'other';
    // Old (v7) archives mark a directory only by its trailing slash.
    entries.push({
      name,
      type: type === 'file' && name.endsWith('/') ? 'directory' : type,
      linkname,
      offset: dataStart,
      size,
    });
    pax = new Map();
    longName = undefined;
    longLink = undefined;
  }
  return entries;
}
