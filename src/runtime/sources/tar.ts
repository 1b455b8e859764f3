// A reader for tar archives (POSIX ustar, with pax extended headers and GNU
// long names): the entries of an archive held in memory. Only what an image
// layer needs: files, directories, links; other types are reported as such.

import { RuntimeError } from '../errors.js';

export interface TarEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';
  /** Target of a link. */
  linkname: string;
  /** The file's bytes (a view into the archive). */
  data: Buffer;
}

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

export function readTar(archive: Buffer, what: string): TarEntry[] {
  const entries: TarEntry[] = [];
  let pax = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let at = 0;
  while (at + BLOCK <= archive.length) {
    const header = archive.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) break; // End of archive (two zero blocks; one is enough).
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
    if (sum !== number(header, 148, 8)) throw bad(what, `bad header checksum at byte ${at}`);
    const flag = String.fromCharCode(header[156] ?? 0);
    const size = pax.has('size') ? Number(pax.get('size')) : number(header, 124, 12);
    const dataStart = at + BLOCK;
    if (!Number.isSafeInteger(size) || size < 0 || dataStart + size > archive.length) {
      throw bad(what, `entry at byte ${at} runs past the end (truncated)`);
    }
    const data = archive.subarray(dataStart, dataStart + size);
    at = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'x') {
      pax = paxRecords(data, what);
      continue;
    }
    if (flag === 'g') continue; // Global pax defaults: none that matter here.
    if (flag === 'L' || flag === 'K') {
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
      data,
    });
    pax = new Map();
    longName = undefined;
    longLink = undefined;
  }
  return entries;
}
